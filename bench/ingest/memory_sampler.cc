#include "bench/ingest/memory_sampler.h"

#include <algorithm>

#include "absl/status/statusor.h"
#include "bench/ingest/server_child.h"

namespace vigie::bench {

MemorySampler::MemorySampler(pid_t pid, absl::Duration interval)
    : pid_(pid), thread_([this, interval] {
        do {
          Sample();
        } while (!gone_ && !stop_.WaitForNotificationWithTimeout(interval));
      }) {}

MemorySampler::~MemorySampler() { Stop(); }

MemorySamples MemorySampler::Stop() {
  if (thread_.joinable()) {
    stop_.Notify();
    thread_.join();
    Sample();  // So that final_hwm_kb is read now.
  }
  return samples_;
}

void MemorySampler::Sample() {
  if (gone_) return;
  const absl::StatusOr<ProcessMemory> memory = ReadProcessMemory(pid_);
  // A process that exited but is not yet reaped still has a status file,
  // without the Vm lines.
  if (!memory.ok() || memory->hwm_kb == 0) {
    gone_ = true;
    return;
  }
  ++samples_.count;
  samples_.max_rss_kb = std::max(samples_.max_rss_kb, memory->rss_kb);
  samples_.final_hwm_kb = memory->hwm_kb;
}

}  // namespace vigie::bench
