#pragma once

#include <deque>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vigie::services {

// One thread that runs submitted work in submission order: where ingest
// calls are applied, so that gRPC's own threads, which read the next
// requests from the network, never wait on the pipeline's lock (the
// pipeline applies one call at a time anyway; a second thread would only
// wait); and where a gRPC stream's requests are parsed and logged, in the
// order they were read, while gRPC reads the next.
//
// Thread-safe. The destructor runs the work already submitted, then joins.
class IngestWorker {
 public:
  IngestWorker();
  ~IngestWorker();
  IngestWorker(const IngestWorker&) = delete;
  IngestWorker& operator=(const IngestWorker&) = delete;

  void Submit(std::function<void()> work) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace vigie::services
