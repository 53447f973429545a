// A stand-in accelerator for machines without one. Note [Host device] in host_device.cpp.
#pragma once

#include <c10/core/Device.h>

namespace vlb::test {

/// LibTorch's PrivateUse1 device ("privateuseone:0"), backed by host memory: every operator runs
/// the CPU kernel, and results match the CPU bit for bit. What it refuses is what a CUDA device
/// refuses: an operator mixing its tensors with CPU tensors of more than one element throws, and a
/// host read or write through a device tensor's data pointer faults. The first call registers it.
c10::Device host_device();

/// How many operators reached the device since the process started (to see that work ran there).
long host_device_ops();

/// Bytes copied from the device to CPU tensors since the process started (`copy_`; `item()` aside).
long host_device_bytes_to_host();

}  // namespace vlb::test
