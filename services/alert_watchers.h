#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::services {

// Fans alert updates out to watchers (the WatchAlerts streams), each with a
// queue of its own, so that the publisher, which runs under the pipeline's
// lock, never waits on a client. A queue is bounded: a watcher that falls
// more than max_queued updates behind is cut off (its queue dropped, its
// end RESOURCE_EXHAUSTED) rather than slowing ingest or growing memory; its
// client watches again and starts from the alerts as they are then.
//
//   auto watcher = watchers.Add(filter, initial, [] { /* wake consumer */ });
//   // Consumer, after each wake-up: take until nothing is left.
//   for (auto next = (*watcher)->Take(); next.update || next.end; ...)
//
// Thread-safe. Publish is O(watchers).
class AlertWatchers {
 public:
  struct Options {
    // Updates a watcher may have waiting before it is cut off. Default:
    // 1,000. Range: at least 1.
    size_t max_queued = 1000;
  };
  // Which updates a watcher wants (see vigie.v1.WatchAlertsRequest).
  struct Filter {
    std::string model_id;  // Empty: every model's.
    bool include_refreshes = false;
    bool Passes(const vigie::v1::AlertUpdate& update) const;
  };

  // One watcher's queue. Thread-safe.
  class Watcher {
   public:
    struct Next {
      // The next update to send, if any.
      std::optional<vigie::v1::AlertUpdate> update;
      // Else, once the watcher was cut off or shut down: how its stream
      // ends. Neither: nothing yet, and on_ready will be called once when
      // there is something.
      std::optional<absl::Status> end;
    };
    Next Take() ABSL_LOCKS_EXCLUDED(mu_);
    // The consumer is gone (its client cancelled): nothing more is queued,
    // and the broadcaster forgets the watcher.
    void Close() ABSL_LOCKS_EXCLUDED(mu_);

   private:
    friend class AlertWatchers;
    Watcher(Filter filter, std::deque<vigie::v1::AlertUpdate> initial,
            std::function<void()> on_ready, size_t max_queued);
    // Queues `update` (or cuts the watcher off when its queue is full);
    // true when on_ready is to be called.
    bool Push(const vigie::v1::AlertUpdate& update) ABSL_LOCKS_EXCLUDED(mu_);
    // Ends the watcher with `status`; true when on_ready is to be called.
    bool End(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
    // Cut off, shut down or closed: the broadcaster may forget it.
    bool Done() const ABSL_LOCKS_EXCLUDED(mu_);

    const Filter filter_;
    const std::function<void()> on_ready_;
    const size_t max_queued_;
    mutable absl::Mutex mu_;
    // The initial updates, which do not count against max_queued, then the
    // published ones.
    std::deque<vigie::v1::AlertUpdate> initial_ ABSL_GUARDED_BY(mu_);
    std::deque<vigie::v1::AlertUpdate> queue_ ABSL_GUARDED_BY(mu_);
    std::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);
    bool closed_ ABSL_GUARDED_BY(mu_) = false;
    // Take found nothing: the next Push or End calls on_ready.
    bool armed_ ABSL_GUARDED_BY(mu_) = false;
  };

  AlertWatchers();
  explicit AlertWatchers(Options options);

  // A new watcher of the updates that pass `filter`, whose queue starts
  // with `initial`. `on_ready` is called on the publishing thread, outside
  // this class's locks, each time the watcher gets something after Take
  // found nothing; it must not block. kUnavailable after Shutdown.
  absl::StatusOr<std::shared_ptr<Watcher>> Add(
      Filter filter, std::vector<vigie::v1::AlertUpdate> initial,
      std::function<void()> on_ready) ABSL_LOCKS_EXCLUDED(mu_);
  // Queues `update` for every watcher whose filter it passes. Never blocks
  // on a watcher.
  void Publish(const vigie::v1::AlertUpdate& update) ABSL_LOCKS_EXCLUDED(mu_);
  // Ends every watcher with `status` at once (what they had queued is
  // dropped) and refuses new ones: for a server shutting down.
  void Shutdown(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  // Watchers not yet cut off, shut down or closed.
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const Options options_;
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> shut_down_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigie::services
