/* The stand-in for glibc's __libc_single_threaded; see kernels_glibc_compat.h. Hidden, so
 * that each extension keeps its own copy and nothing is exported. */
__attribute__((visibility("hidden"))) char kernels_glibc_single_threaded = 0;
