# XPU kernels (configure-time logic only: untested here for lack of Intel GPUs and icpx).
#
# The generated project picks icx/icpx before project() when the caller chose no compilers;
# this module then insists on them, applies the contract's SYCL compile and link flags, and
# links oneDNN when it can be found. Every [kernel.<name>] of backend xpu becomes
# kernel_add_sycl_component() below, which appends its sycl-flags to .cpp/.cxx/.cc sources.
include_guard(GLOBAL)

if(NOT CMAKE_CXX_COMPILER_ID MATCHES "IntelLLVM")
  message(FATAL_ERROR "XPU kernels need the Intel oneAPI DPC++ compiler (icpx), but the C++ "
                      "compiler is ${CMAKE_CXX_COMPILER} (${CMAKE_CXX_COMPILER_ID}); source "
                      "oneAPI's setvars.sh or set CMAKE_CXX_COMPILER=icpx")
endif()

target_compile_definitions(kernel_base INTERFACE XPU_KERNEL USE_XPU)
# SYCL and IEEE-strict floating point for C++ only (the glibc shim is C).
set(KERNEL_SYCL_COMPILE_OPTIONS
  -fsycl -fhonor-nans -fhonor-infinities -fno-associative-math -fno-approx-func
  -foffload-fp32-prec-div -foffload-fp32-prec-sqrt)
target_compile_options(kernel_base INTERFACE
  "$<$<COMPILE_LANGUAGE:CXX>:${KERNEL_SYCL_COMPILE_OPTIONS}>")
# Device code: ahead of time for the contract's devices, plus SPIR-V for the others.
target_link_options(kernel_base INTERFACE -fsycl --offload-compress
  -fsycl-targets=spir64_gen,spir64 "SHELL:-Xs \"-device pvc,xe-lpg,ats-m150\"" -Wl,-z,noexecstack)

# oneDNN (libdnnl): torch's lib/, the build environment's lib/ (pip onednn-devel), oneAPI.
find_library(KERNEL_DNNL_LIBRARY NAMES dnnl
  HINTS ${KERNEL_XPU_LIBRARY_HINTS} "$ENV{DNNLROOT}/lib" ENV LIBRARY_PATH)
if(KERNEL_DNNL_LIBRARY)
  message(STATUS "XPU: linking oneDNN ${KERNEL_DNNL_LIBRARY}")
  target_link_libraries(kernel_base INTERFACE "${KERNEL_DNNL_LIBRARY}")
  find_path(KERNEL_DNNL_INCLUDE_DIR NAMES dnnl.hpp oneapi/dnnl/dnnl.hpp
    HINTS ${KERNEL_XPU_INCLUDE_HINTS} "$ENV{DNNLROOT}/include" ENV CPATH)
  if(KERNEL_DNNL_INCLUDE_DIR)
    target_include_directories(kernel_base SYSTEM INTERFACE "${KERNEL_DNNL_INCLUDE_DIR}")
  endif()
else()
  message(STATUS "XPU: oneDNN (libdnnl) not found; not linking it")
endif()

# kernel_add_sycl_component(<name> SOURCES ... [INCLUDE ...] [CXX_FLAGS ...] [SYCL_FLAGS ...]
#                           [DEFINITIONS ...])
# kernel_add_component() whose .cpp/.cxx/.cc sources also get SYCL_FLAGS (sycl-flags).
function(kernel_add_sycl_component NAME)
  cmake_parse_arguments(ARG "" "" "SOURCES;INCLUDE;CXX_FLAGS;SYCL_FLAGS;DEFINITIONS" ${ARGN})
  kernel_add_component(${NAME}
    SOURCES ${ARG_SOURCES}
    INCLUDE ${ARG_INCLUDE}
    CXX_FLAGS ${ARG_CXX_FLAGS}
    DEFINITIONS ${ARG_DEFINITIONS})
  if(ARG_SYCL_FLAGS)
    foreach(source IN LISTS ARG_SOURCES)
      if(source MATCHES "\\.(cpp|cxx|cc)$")
        set_property(SOURCE "${source}" APPEND PROPERTY COMPILE_OPTIONS ${ARG_SYCL_FLAGS})
      endif()
    endforeach()
  endif()
endfunction()
