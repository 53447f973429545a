#include "host_device.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <signal.h>
#include <sys/mman.h>
#include <torch/library.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

// Note [Host device]
// A method tagged device:cuda promises two things that a CPU-only machine cannot check with the
// CPU itself: every tensor it makes is made on its inputs' device, and it never reads device
// memory from the host (accessor, data_ptr). This device breaks both the way CUDA does, using
// LibTorch's out-of-tree backend hooks (PrivateUse1: a boxed fallback kernel, a device guard):
// - A storage holds two addresses. Its data pointer is an inaccessible (PROT_NONE) mapping, so a
//   host dereference faults, as a CUDA pointer would; the bytes live in a host buffer kept in the
//   DataPtr's context.
// - Every operator without its own kernel here reaches `run_on_host`: the device tensors become
//   CPU tensors over their host buffers, the CPU kernel runs, and the results become device
//   tensors again (views keep the input's storage; new results are copied into new storages;
//   an argument the kernel resized takes the grown buffer).
//   CPU tensors of more than one element among the inputs are refused, as CUDA refuses them.
// - `copy_` moves bytes between the devices; it is the only operator that takes both.
// Operators with a composite kernel (expand, select, _to_copy, ...) decompose before reaching it,
// as they do on CUDA. Autograd sits above all of this and works unchanged.

namespace vlb::test {
namespace {

constexpr c10::DeviceType kType = c10::DeviceType::PrivateUse1;
const c10::Device kDevice(kType, 0);

std::atomic<long> ops{0}, to_host_bytes{0};
std::atomic<uintptr_t> lo{UINTPTR_MAX}, hi{0};  // the span of device addresses handed out

struct Block {
  void* device = nullptr;
  void* host = nullptr;
  size_t bytes = 0;
};

void release(void* ctx) {
  auto* b = static_cast<Block*>(ctx);
  if (b->device) munmap(b->device, b->bytes);
  std::free(b->host);
  delete b;
}

at::DataPtr allocate(size_t bytes) {
  auto* b = new Block{nullptr, nullptr, bytes};
  if (bytes > 0) {
    b->device = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    b->host = std::malloc(bytes);
    TORCH_CHECK(b->device != MAP_FAILED && b->host, "host device: out of memory for ", bytes,
                " bytes");
    auto a = reinterpret_cast<uintptr_t>(b->device);
    for (auto v = lo.load(); a < v && !lo.compare_exchange_weak(v, a);) {}
    for (auto v = hi.load(); a + bytes > v && !hi.compare_exchange_weak(v, a + bytes);) {}
  }
  return at::DataPtr(b->device, b, &release, kDevice);
}

struct Allocator final : c10::Allocator {
  at::DataPtr allocate(size_t n) const override { return test::allocate(n); }
  c10::DeleterFnPtr raw_deleter() const override { return nullptr; }
};
Allocator allocator;

Block& block_of(const c10::Storage& s) {
  TORCH_CHECK(s.data_ptr().get_deleter() == &release,
              "host device: a storage this device did not allocate");
  return *static_cast<Block*>(s.data_ptr().get_context());
}

at::Tensor tensor_on(c10::Storage s, c10::DispatchKey key, const at::Tensor& like) {
  auto t = at::detail::make_tensor<c10::TensorImpl>(std::move(s), c10::DispatchKeySet(key),
                                                    like.dtype());
  t.unsafeGetTensorImpl()->set_sizes_and_strides(like.sizes(), like.strides());
  t.unsafeGetTensorImpl()->set_storage_offset(like.storage_offset());
  return t;
}

// A CPU tensor over a device tensor's host buffer; it keeps the device storage alive.
at::Tensor host_alias(const at::Tensor& t) {
  Block& b = block_of(t.storage());
  auto* keep = new c10::Storage(t.storage());
  at::DataPtr ptr(b.host, keep, [](void* p) { delete static_cast<c10::Storage*>(p); },
                  c10::Device(c10::kCPU));
  // Resizable, so that out= kernels may grow it; `sync` carries a grown buffer back.
  c10::Storage s(c10::Storage::use_byte_size_t(), b.bytes, std::move(ptr), at::getCPUAllocator(),
                 true);
  return tensor_on(std::move(s), c10::DispatchKey::CPU, t);
}

// A new device storage holding a copy of `bytes` host bytes.
at::DataPtr copy_to_device(const void* src, size_t bytes) {
  at::DataPtr ptr = allocate(bytes);
  if (bytes > 0) std::memcpy(static_cast<Block*>(ptr.get_context())->host, src, bytes);
  return ptr;
}

struct Converted {
  std::vector<std::pair<at::Tensor, at::Tensor>> pairs;  // (device tensor, its CPU alias)
  bool mixed = false;

  at::Tensor to_host(const at::Tensor& t) {
    if (!t.defined()) return t;
    if (t.device().type() != kType) {
      mixed = mixed || t.dim() > 0;  // CUDA takes 0-dim CPU tensors as scalars, nothing else
      return t;
    }
    pairs.emplace_back(t, host_alias(t));
    return pairs.back().second;
  }

  c10::IValue to_host(const c10::IValue& v) {
    if (v.isTensor()) return to_host(v.toTensor());
    if (v.isTensorList()) {
      c10::List<at::Tensor> out;
      for (const at::Tensor& t : v.toTensorList().vec()) out.push_back(to_host(t));
      return out;
    }
    if (v.isList()) {  // Tensor?[] (index, index_put_)
      auto in = v.toList();
      c10::impl::GenericList out(in.elementType());
      for (size_t i = 0; i < in.size(); ++i) {
        c10::IValue e = in.get(i);
        out.push_back(e.isTensor() ? c10::IValue(to_host(e.toTensor())) : e);
      }
      return out;
    }
    if (v.isDevice() && v.toDevice().type() == kType) return c10::Device(c10::kCPU);
    return v;
  }

  at::Tensor to_device(const at::Tensor& t) const {
    if (!t.defined() || t.device().type() != c10::kCPU) return t;
    for (const auto& [dev, alias] : pairs) {
      if (t.unsafeGetTensorImpl() == alias.unsafeGetTensorImpl()) return dev;  // in place, out=
      if (t.storage().data() == alias.storage().data()) {  // a view of an input
        return tensor_on(dev.storage(), c10::DispatchKey::PrivateUse1, t);
      }
    }
    const size_t bytes = t.storage().nbytes();
    c10::Storage s(c10::Storage::use_byte_size_t(), bytes,
                   copy_to_device(t.storage().data(), bytes), &allocator, true);
    return tensor_on(std::move(s), c10::DispatchKey::PrivateUse1, t);
  }

  // A kernel may have resized an argument (resize_, out=): the device tensor takes the new
  // buffer and shape.
  void sync() const {
    for (const auto& [dev, alias] : pairs) {
      c10::Storage st = dev.storage();
      if (alias.storage().data() != block_of(st).host) {
        const size_t bytes = alias.storage().nbytes();
        st.set_data_ptr_noswap(copy_to_device(alias.storage().data(), bytes));
        st.set_nbytes(bytes);
      }
      if (alias.sizes() != dev.sizes() || alias.strides() != dev.strides())
        dev.unsafeGetTensorImpl()->set_sizes_and_strides(alias.sizes(), alias.strides());
    }
  }

  c10::IValue to_device(const c10::IValue& v) const {
    if (v.isTensor()) return to_device(v.toTensor());
    if (v.isTensorList()) {
      c10::List<at::Tensor> out;
      for (const at::Tensor& t : v.toTensorList().vec()) out.push_back(to_device(t));
      return out;
    }
    return v;
  }
};

void run_on_host(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  ++ops;
  const size_t n = op.schema().arguments().size();
  Converted c;
  for (size_t i = stack->size() - n; i < stack->size(); ++i) (*stack)[i] = c.to_host((*stack)[i]);
  TORCH_CHECK(!c.mixed,
              "Expected all tensors to be on the same device, but found at least two devices, ",
              kDevice, " and cpu! (in ", op.schema().name(), ")");
  op.callBoxed(stack);
  c.sync();
  const size_t r = op.schema().returns().size();
  for (size_t i = stack->size() - r; i < stack->size(); ++i) (*stack)[i] = c.to_device((*stack)[i]);
}

at::Tensor host_view(const at::Tensor& t) {
  return t.device().type() == kType ? host_alias(t) : t;
}

// copy_(self, src, non_blocking): either side may be on either device.
void copy(const c10::OperatorHandle&, torch::jit::Stack* stack) {
  ++ops;
  auto args = torch::jit::last(*stack, 3);
  at::Tensor self = args[0].toTensor();
  at::Tensor src = args[1].toTensor();
  if (self.device().type() != kType && src.device().type() == kType)
    to_host_bytes += static_cast<long>(src.numel() * src.element_size());
  host_view(self).copy_(host_view(src));
  torch::jit::drop(*stack, 3);
  torch::jit::push(*stack, self);
}

struct Guard final : c10::impl::DeviceGuardImplInterface {
  c10::DeviceType type() const override { return kType; }
  c10::Device exchangeDevice(c10::Device) const override { return kDevice; }
  c10::Device getDevice() const override { return kDevice; }
  void setDevice(c10::Device) const override {}
  void uncheckedSetDevice(c10::Device) const noexcept override {}
  c10::Stream getStream(c10::Device d) const noexcept override {
    return c10::Stream(c10::Stream::DEFAULT, d);
  }
  c10::Stream exchangeStream(c10::Stream s) const noexcept override { return s; }
  c10::DeviceIndex deviceCount() const noexcept override { return 1; }
  void record(void**, const c10::Stream&, const c10::DeviceIndex, const c10::EventFlag)
      const override {}
  void block(void*, const c10::Stream&) const override {}
  bool queryEvent(void*) const override { return true; }
};

void on_fault(int sig, siginfo_t* info, void*) {
  const auto a = reinterpret_cast<uintptr_t>(info->si_addr);
  if (a >= lo.load() && a < hi.load()) {
    static const char msg[] =
        "host device: the host read or wrote device memory (a data pointer or accessor of a "
        "tensor on the device; CUDA would fault here too)\n";
    (void)!write(2, msg, sizeof msg - 1);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

C10_REGISTER_GUARD_IMPL(PrivateUse1, Guard);

TORCH_LIBRARY_IMPL(_, PrivateUse1, m) {
  m.fallback(torch::CppFunction::makeFromBoxedFunction<&run_on_host>());
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("copy_", torch::CppFunction::makeFromBoxedFunction<&copy>());
}

c10::Device host_device() {
  static std::once_flag once;
  std::call_once(once, [] {
    c10::SetAllocator(kType, &allocator);
    struct sigaction sa {};
    sa.sa_sigaction = &on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, nullptr);
  });
  return kDevice;
}

long host_device_ops() { return ops.load(); }

long host_device_bytes_to_host() { return to_host_bytes.load(); }

}  // namespace vlb::test
