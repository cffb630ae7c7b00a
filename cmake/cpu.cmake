# CPU kernels: plain C++ compiled by the host compiler.
include_guard(GLOBAL)
target_compile_definitions(kernel_base INTERFACE CPU_KERNEL)
