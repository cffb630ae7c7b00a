# CUDA kernels: nvcc with explicit -gencode flags per component (computed in Python from
# cuda-capabilities and what the nvcc in use supports), linked against the shared CUDA
# runtime that torch's wheels ship.
include_guard(GLOBAL)

find_package(CUDAToolkit REQUIRED)
set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)

target_compile_definitions(kernel_base INTERFACE USE_CUDA=1 CUDA_KERNEL)
target_compile_features(kernel_base INTERFACE cuda_std_${KERNEL_CXX_STANDARD})
target_link_libraries(kernel_base INTERFACE CUDA::cudart)
# The flags the existing builder's .cu files get from torch (KERNEL_TORCH_CUDA_FLAGS, computed
# in kernels_build/flags.py): torch's CMake CUDA flags (--expt-extended-lambda, ...) and
# cpp_extension's COMMON_NVCC_FLAGS without the half/bfloat16 switches, plus -DENABLE_FP8.
target_compile_options(kernel_base INTERFACE "$<$<COMPILE_LANGUAGE:CUDA>:${KERNEL_TORCH_CUDA_FLAGS}>")
if(KERNEL_GLIBC_COMPAT)
  target_compile_options(kernel_base INTERFACE
    "$<$<COMPILE_LANGUAGE:CUDA>:SHELL:--pre-include ${KERNEL_GLIBC_COMPAT_HEADER}>")
endif()
if(DEFINED ENV{NVCC_THREADS})
  target_compile_options(kernel_base INTERFACE "$<$<COMPILE_LANGUAGE:CUDA>:--threads=$ENV{NVCC_THREADS}>")
endif()

