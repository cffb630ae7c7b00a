/* Force-included into every C/C++ translation unit of a kernel on Linux (see kernels.cmake).
 *
 * glibc 2.32 added the variable __libc_single_threaded, and libstdc++ (GCC >= 11) reads it
 * in inline code (shared_ptr, locale, ...) when the header exists. Any such read ties the
 * extension to GLIBC_2.32, above the manylinux_2_28 ceiling. Renaming the variable here makes
 * those reads use kernels_glibc_single_threaded, defined in kernels_glibc_compat.c as 0,
 * which means "threads may exist": libstdc++ then always takes its thread-safe path.
 */
#ifndef KERNELS_GLIBC_COMPAT_H
#define KERNELS_GLIBC_COMPAT_H
#define __libc_single_threaded kernels_glibc_single_threaded
#endif
