# CPU kernels: plain C++ compiled by the host compiler.
include_guard(GLOBAL)
target_compile_definitions(kernel_torch INTERFACE CPU_KERNEL)
