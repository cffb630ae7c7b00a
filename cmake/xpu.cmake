# XPU kernels (configure-time logic only: untested here for lack of Intel GPUs and icpx).
include_guard(GLOBAL)
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "IntelLLVM")
  message(FATAL_ERROR "XPU kernels need the Intel oneAPI DPC++ compiler (icpx); "
                      "set CMAKE_CXX_COMPILER=icpx")
endif()
target_compile_definitions(kernel_torch INTERFACE XPU_KERNEL USE_XPU)
target_compile_options(kernel_torch INTERFACE
  -fsycl -fhonor-nans -fhonor-infinities -fno-associative-math -fno-approx-func
  -foffload-fp32-prec-div -foffload-fp32-prec-sqrt)
target_link_options(kernel_torch INTERFACE -fsycl --offload-compress
  -fsycl-targets=spir64_gen,spir64 "SHELL:-Xs \"-device pvc,xe-lpg,ats-m150\"" -Wl,-z,noexecstack)
