# ROCm kernels (configure-time logic only: untested here for lack of AMD hardware).
# .cu sources are compiled as HIP with --offload-arch per architecture.
include_guard(GLOBAL)
enable_language(HIP)
target_compile_definitions(kernel_torch INTERFACE USE_ROCM=1 ROCM_KERNEL)
