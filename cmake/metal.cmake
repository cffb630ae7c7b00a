# Metal kernels (macOS only; untested here for lack of Apple hardware).
include_guard(GLOBAL)
if(NOT APPLE)
  message(FATAL_ERROR "Metal kernels can only be built on macOS")
endif()
target_compile_definitions(kernel_base INTERFACE METAL_KERNEL)
