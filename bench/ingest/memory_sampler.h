#pragma once

#include <sys/types.h>

#include <cstdint>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace vigie::bench {

// What a MemorySampler saw.
struct MemorySamples {
  uint64_t count = 0;
  uint64_t max_rss_kb = 0;    // The largest VmRSS sampled.
  uint64_t final_hwm_kb = 0;  // VmHWM at the last sample.
};

// Reads a process's VmRSS and VmHWM every `interval` from a thread of its
// own until Stop(). One read at the end shows only where memory ended; the
// samples show how high it went while the process worked, and the final
// VmHWM (the kernel's peak) also covers what fell between samples. A
// process that is gone ends the samples quietly. Stop() must be called
// from one thread.
class MemorySampler {
 public:
  MemorySampler(pid_t pid, absl::Duration interval);
  MemorySampler(const MemorySampler&) = delete;
  MemorySampler& operator=(const MemorySampler&) = delete;
  ~MemorySampler();  // Stops.

  // Takes a last sample, stops the thread and returns every sample's
  // summary. Idempotent.
  MemorySamples Stop();

 private:
  // Adds one sample to samples_, or sets gone_.
  void Sample();

  const pid_t pid_;
  absl::Notification stop_;
  // Written by thread_ until it is joined, then by Stop().
  MemorySamples samples_;
  bool gone_ = false;
  std::thread thread_;
};

}  // namespace vigie::bench
