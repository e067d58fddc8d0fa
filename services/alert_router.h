#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "services/acknowledgements.h"
#include "services/alert_watchers.h"
#include "services/silences.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::services {

// Where each alert the pipeline stores goes next: annotated with the
// silences that mute it and its acknowledgement, shown to the watchers, and
// handed to the sinks unless a silence mutes it.
//
// Delivery follows what the sinks were told. A firing alert a silence
// mutes is not delivered; one that was delivered and then gets muted is
// withdrawn (no more resends). When no silence mutes it any more (a
// silence expired, ended or was deleted) and it still fires, it is
// delivered then, as a transition: someone wants to hear of it. Its
// resolution is delivered, muted or not, if its firing ever was, so that a
// receiver holding it open (Alertmanager) closes it; the resolution of an
// alert muted from start to end is not, as its firing never was.
//
// Thread-safe. Update runs under the pipeline's lock: it never blocks on
// a disk, a sink or a watcher (disk work goes to the timer thread).
class AlertRouter {
 public:
  // The sinks, as callbacks so that this layer needs no dispatcher.
  struct Delivery {
    // Hands an alert to the sinks (AlertDispatcher::Update). Optional.
    std::function<void(const vigie::v1::Alert& alert, bool transition)> deliver;
    // Stops notifying a firing alert (AlertDispatcher::Withdraw). Optional.
    std::function<void(const std::string& fingerprint)> withdraw;
  };

  // Every pointer must outlive the router.
  AlertRouter(Silences* silences, Acknowledgements* acknowledgements,
              AlertWatchers* watchers, Delivery delivery,
              const common::Clock* clock);
  // Stops the timer.
  ~AlertRouter();
  AlertRouter(const AlertRouter&) = delete;
  AlertRouter& operator=(const AlertRouter&) = delete;

  // The alerts the pipeline holds at start (ListAlerts with closed ones),
  // before it gets Update as its listener. Their firing ones count as
  // delivered, whether or not a silence mutes them now: a previous process
  // may have delivered them, so their resolution will be.
  void Seed(const std::vector<vigie::v1::Alert>& alerts)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The pipeline's alert listener: `alert` was stored; `transition` as
  // rules::AlertChange's.
  void Update(const vigie::v1::Alert& alert, bool transition)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Checks every open alert against the silences and acknowledgements as
  // they are now: delivers or withdraws what they no longer or newly mute,
  // gives the sinks a newly acknowledged alert (for their next resend) and
  // tells watchers what changed. Call after a silence or acknowledgement
  // changes; the timer calls it when a silence starts or ends.
  void Refresh() ABSL_LOCKS_EXCLUDED(mu_);

  // Whether this process hands alerts to the sinks (default: yes). Of the
  // replicas of a Kafka consumer group sharing panes, which all evaluate
  // the same model-wide windows, only the one that leads delivers
  // (KafkaIngest's leadership). Turned off, what the sinks hold is
  // withdrawn; turned on, every firing alert no silence mutes is delivered
  // as news (the previous leader may have told of it already: a receiver
  // may hear of it twice, Alertmanager deduplicates). While off, a firing
  // alert counts as delivered by the leader, so that its resolution is
  // delivered by whichever replica leads then. Watchers hear of every
  // change either way.
  void SetDelivering(bool delivering) ABSL_LOCKS_EXCLUDED(mu_);
  bool delivering() const ABSL_LOCKS_EXCLUDED(mu_);

  // Sets `alert`'s silenced_by (open alerts only) and acknowledged_* fields
  // as they are now.
  void Annotate(vigie::v1::Alert* alert) const;
  // A watcher whose queue starts with every open alert that passes
  // `filter` (ALERT_UPDATE_KIND_CURRENT, most recently updated first) and
  // ALERT_UPDATE_KIND_SYNCED, then gets each change: registered atomically
  // with the snapshot, so that nothing falls between. See
  // AlertWatchers::Add.
  absl::StatusOr<std::shared_ptr<AlertWatchers::Watcher>> Watch(
      AlertWatchers::Filter filter, std::function<void()> on_ready)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Starts a thread that calls Refresh when a silence starts or ends (by
  // the clock's time, waiting at most `max_wait` of real time between
  // checks), and deletes silences past their retention and
  // acknowledgements that no longer hold.
  void StartTimer(absl::Duration max_wait = absl::Minutes(1))
      ABSL_LOCKS_EXCLUDED(timer_mu_);
  // Wakes the timer: a silence changed, or work is waiting for the disk.
  void WakeTimer() ABSL_LOCKS_EXCLUDED(timer_mu_);
  // Stops the timer thread (idempotent).
  void StopTimer() ABSL_LOCKS_EXCLUDED(timer_mu_);

 private:
  // An open (firing or pending) alert.
  struct Entry {
    vigie::v1::Alert alert;  // As the pipeline stored it.
    // Its silenced_by and acknowledged_* as last shown.
    vigie::v1::Alert annotations;
    // The sinks hold it as firing now (and resend it), and did at some
    // point of this firing.
    bool delivered = false;
    bool ever_delivered = false;
  };

  void AnnotateAt(vigie::v1::Alert* alert, absl::Time now) const;
  void Publish(vigie::v1::AlertUpdateKind kind, const vigie::v1::Alert& alert)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Delivers a firing `entry` (`annotated`) to the sinks, or withdraws it
  // from them if a silence mutes it.
  void Route(Entry& entry, const vigie::v1::Alert& annotated, bool transition)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // delivery_.deliver, when set and delivering_.
  void Deliver(const vigie::v1::Alert& alert, bool transition)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunTimer(absl::Duration max_wait) ABSL_LOCKS_EXCLUDED(timer_mu_);

  Silences* const silences_;
  Acknowledgements* const acknowledgements_;
  AlertWatchers* const watchers_;
  const Delivery delivery_;
  const common::Clock* const clock_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> open_ ABSL_GUARDED_BY(mu_);
  bool delivering_ ABSL_GUARDED_BY(mu_) = true;

  absl::Mutex timer_mu_;
  bool timer_woken_ ABSL_GUARDED_BY(timer_mu_) = false;
  bool timer_stopping_ ABSL_GUARDED_BY(timer_mu_) = false;
  absl::CondVar timer_wake_;
  std::thread timer_;
};

}  // namespace vigie::services
