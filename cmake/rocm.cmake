# ROCm kernels (configure-time logic only: untested here for lack of AMD hardware).
#
# The generated project lists HIP in project() and sets CMAKE_HIP_ARCHITECTURES to the union
# of its components' architectures (which spares CMake the GPU detection). Every
# [kernel.<name>] of backend rocm becomes kernel_add_hip_component() below: its .cu and .hip
# sources are compiled as HIP, with the component's own --offload-arch=<gfx> flags (computed
# in Python: rocm-archs intersected with the supported list) followed by its hip-flags.
#
# Not done: hipify. Upstream runs torch.utils.hipify over .cu sources first (CUDA API calls
# and ATen/cuda includes become their HIP forms, .cu -> .hip). Here .cu files are compiled as
# HIP as they are, so they must already be HIP-ready (HIP API, or only code that clang's HIP
# mode accepts, such as plain __global__ kernels and torch/ATen host code).
include_guard(GLOBAL)

enable_language(HIP)  # a no-op when project() already enabled it

# The HIP runtime for host code: headers (also for .cpp files that include ATen/hip headers),
# __HIP_PLATFORM_AMD__ and libamdhip64, which HIP objects need at link time since the
# extension itself is linked as C++.
list(APPEND CMAKE_PREFIX_PATH "${CMAKE_HIP_COMPILER_ROCM_ROOT}" "$ENV{ROCM_PATH}" /opt/rocm)
find_package(hip CONFIG REQUIRED)
target_link_libraries(kernel_base INTERFACE hip::host)

# Torch's own definitions for ROCm extensions (COMMON_HIP_FLAGS of torch.utils.cpp_extension),
# plus the contract's ROCM_KERNEL. Like the CUDA backend, the __HIP_NO_HALF_* switches are
# left out.
target_compile_definitions(kernel_base INTERFACE
  USE_ROCM=1 ROCM_KERNEL __HIP_PLATFORM_AMD__=1 HIPBLAS_V2)
target_compile_features(kernel_base INTERFACE hip_std_${KERNEL_CXX_STANDARD})
if(KERNEL_GLIBC_COMPAT)
  # HIP host code goes through libstdc++ too (see kernels.cmake).
  target_compile_options(kernel_base INTERFACE
    "$<$<COMPILE_LANGUAGE:HIP>:SHELL:-include ${KERNEL_GLIBC_COMPAT_HEADER}>")
endif()

# kernel_add_hip_component(<name> SOURCES ... [INCLUDE ...] [CXX_FLAGS ...] [HIP_FLAGS ...]
#                          [DEFINITIONS ...])
# kernel_add_component() with .cu/.hip sources compiled as HIP. HIP_FLAGS (--offload-arch
# per architecture, then hip-flags) apply to HIP compilation only; CMake adds no
# architectures of its own (HIP_ARCHITECTURES OFF), so HIP_FLAGS alone decide them.
function(kernel_add_hip_component NAME)
  cmake_parse_arguments(ARG "" "" "SOURCES;INCLUDE;CXX_FLAGS;HIP_FLAGS;DEFINITIONS" ${ARGN})
  foreach(source IN LISTS ARG_SOURCES)
    if(source MATCHES "\\.(cu|hip)$")
      set_source_files_properties("${source}" PROPERTIES LANGUAGE HIP)
    endif()
  endforeach()
  kernel_add_component(${NAME}
    SOURCES ${ARG_SOURCES}
    INCLUDE ${ARG_INCLUDE}
    CXX_FLAGS ${ARG_CXX_FLAGS}
    DEFINITIONS ${ARG_DEFINITIONS})
  set_target_properties(${NAME} PROPERTIES HIP_ARCHITECTURES OFF)
  target_compile_options(${NAME} PRIVATE "$<$<COMPILE_LANGUAGE:HIP>:${ARG_HIP_FLAGS}>")
endfunction()
