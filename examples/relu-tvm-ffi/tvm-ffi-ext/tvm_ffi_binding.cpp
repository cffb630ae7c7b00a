// Exports the kernel's functions through TVM FFI: tvm_ffi.load_module(<library>).relu_cpu, ...
#include <tvm/ffi/tvm_ffi.h>

#if defined(CPU_KERNEL)
void relu_cpu(tvm::ffi::TensorView out, tvm::ffi::TensorView input);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(relu_cpu, relu_cpu);
#endif

#if defined(CUDA_KERNEL)
void relu_cuda(tvm::ffi::TensorView out, tvm::ffi::TensorView input);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(relu_cuda, relu_cuda);
#endif
