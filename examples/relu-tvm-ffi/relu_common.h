// Checks shared by the CPU and CUDA implementations (TVM FFI tensors, no torch).
#pragma once

#include <tvm/ffi/tvm_ffi.h>

#include <cstdint>

namespace relu_tvm_ffi {

inline constexpr DLDataType kFloat32{kDLFloat, 32, 1};

// out and input: contiguous float32 tensors of the same size on the same device.
inline void check_arguments(tvm::ffi::TensorView out, tvm::ffi::TensorView input, DLDeviceType device) {
  TVM_FFI_CHECK(input.device().device_type == device, ValueError)
      << "relu: input is on device type " << input.device().device_type << ", expected " << device;
  TVM_FFI_CHECK(out.device().device_type == input.device().device_type &&
                    out.device().device_id == input.device().device_id,
                ValueError)
      << "relu: out and input must be on the same device";
  TVM_FFI_CHECK(input.IsContiguous() && out.IsContiguous(), ValueError) << "relu: tensors must be contiguous";
  TVM_FFI_CHECK(input.dtype() == kFloat32 && out.dtype() == kFloat32, TypeError)
      << "relu: only float32 is supported, got " << input.dtype();
  TVM_FFI_CHECK(input.numel() == out.numel(), ValueError)
      << "relu: out has " << out.numel() << " elements, input " << input.numel();
}

}  // namespace relu_tvm_ffi
