#include "services/alert_router.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "common/log.h"
#include "google/protobuf/util/message_differencer.h"

namespace vigie::services {
namespace {

bool IsOpen(const vigie::v1::Alert& alert) {
  return alert.state() == vigie::v1::ALERT_STATE_FIRING ||
         alert.state() == vigie::v1::ALERT_STATE_PENDING;
}

// The annotation fields of `alert` alone, to compare.
vigie::v1::Alert AnnotationsOf(const vigie::v1::Alert& alert) {
  vigie::v1::Alert annotations;
  *annotations.mutable_silenced_by() = alert.silenced_by();
  annotations.set_acknowledged_by(alert.acknowledged_by());
  if (alert.has_acknowledged_at()) {
    *annotations.mutable_acknowledged_at() = alert.acknowledged_at();
  }
  annotations.set_acknowledgement_comment(alert.acknowledgement_comment());
  return annotations;
}

bool SameAnnotations(const vigie::v1::Alert& a, const vigie::v1::Alert& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

}  // namespace

AlertRouter::AlertRouter(Silences* silences, Acknowledgements* acknowledgements,
                         AlertWatchers* watchers, Delivery delivery,
                         const common::Clock* clock)
    : silences_(silences),
      acknowledgements_(acknowledgements),
      watchers_(watchers),
      delivery_(std::move(delivery)),
      clock_(clock) {}

AlertRouter::~AlertRouter() { StopTimer(); }

void AlertRouter::AnnotateAt(vigie::v1::Alert* alert, absl::Time now) const {
  alert->clear_silenced_by();
  if (IsOpen(*alert)) {
    for (std::string& id : silences_->Muting(*alert, now)) {
      alert->add_silenced_by(std::move(id));
    }
  }
  acknowledgements_->Apply(alert);
}

void AlertRouter::Annotate(vigie::v1::Alert* alert) const {
  AnnotateAt(alert, clock_->Now());
}

void AlertRouter::Publish(vigie::v1::AlertUpdateKind kind,
                          const vigie::v1::Alert& alert) {
  vigie::v1::AlertUpdate update;
  update.set_kind(kind);
  *update.mutable_alert() = alert;
  watchers_->Publish(update);
}

void AlertRouter::Seed(const std::vector<vigie::v1::Alert>& alerts) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  for (const vigie::v1::Alert& alert : alerts) {
    acknowledgements_->Release(alert);
    if (!IsOpen(alert)) continue;
    Entry& entry = open_[alert.fingerprint()];
    entry.alert = alert;
    vigie::v1::Alert annotated = alert;
    AnnotateAt(&annotated, now);
    entry.annotations = AnnotationsOf(annotated);
    // The sinks of this process hold nothing yet; the listener's replay of
    // the firing alerts delivers them.
    entry.delivered = false;
    entry.ever_delivered = alert.state() == vigie::v1::ALERT_STATE_FIRING;
  }
  if (acknowledgements_->HasReleased()) WakeTimer();
}

void AlertRouter::Route(Entry& entry, const vigie::v1::Alert& annotated,
                        bool transition) {
  const bool muted = annotated.silenced_by_size() > 0;
  if (muted) {
    if (entry.delivered && delivery_.withdraw) {
      delivery_.withdraw(entry.alert.fingerprint());
    }
    entry.delivered = false;
    return;
  }
  entry.ever_delivered = true;  // Here or, while not delivering, by the leader.
  if (!delivering_) {
    entry.delivered = false;
    return;
  }
  // Not yet held by the sinks: news to them, whatever the pipeline says.
  // Otherwise a refresh, which the sinks keep for their next resend.
  transition = transition || !entry.delivered;
  Deliver(annotated, transition);
  entry.delivered = true;
}

void AlertRouter::Deliver(const vigie::v1::Alert& alert, bool transition) {
  if (delivering_ && delivery_.deliver) delivery_.deliver(alert, transition);
}

void AlertRouter::SetDelivering(bool delivering) {
  absl::MutexLock lock(&mu_);
  if (delivering == delivering_) return;
  delivering_ = delivering;
  const absl::Time now = clock_->Now();
  for (auto& [fingerprint, entry] : open_) {
    if (!delivering) {
      if (entry.delivered && delivery_.withdraw)
        delivery_.withdraw(fingerprint);
      entry.delivered = false;
      continue;
    }
    if (entry.alert.state() != vigie::v1::ALERT_STATE_FIRING) continue;
    vigie::v1::Alert annotated = entry.alert;
    AnnotateAt(&annotated, now);
    Route(entry, annotated, /*transition=*/true);
  }
}

bool AlertRouter::delivering() const {
  absl::MutexLock lock(&mu_);
  return delivering_;
}

void AlertRouter::Update(const vigie::v1::Alert& alert, bool transition) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  acknowledgements_->Release(alert);
  if (acknowledgements_->HasReleased()) WakeTimer();
  vigie::v1::Alert annotated = alert;
  AnnotateAt(&annotated, now);

  auto it = open_.find(alert.fingerprint());
  // A watcher hears of every change of state or severity, which includes
  // becoming pending and inactive (not transitions to the sinks).
  const bool changed_state = transition || it == open_.end() ||
                             it->second.alert.state() != alert.state() ||
                             it->second.alert.severity() != alert.severity();
  Publish(changed_state ? vigie::v1::ALERT_UPDATE_KIND_TRANSITION
                        : vigie::v1::ALERT_UPDATE_KIND_REFRESH,
          annotated);

  switch (alert.state()) {
    case vigie::v1::ALERT_STATE_FIRING: {
      Entry& entry = open_[alert.fingerprint()];
      entry.alert = alert;
      entry.annotations = AnnotationsOf(annotated);
      Route(entry, annotated, transition);
      return;
    }
    case vigie::v1::ALERT_STATE_PENDING: {
      Entry& entry = open_[alert.fingerprint()];
      entry.alert = alert;
      entry.annotations = AnnotationsOf(annotated);
      entry.delivered = entry.ever_delivered = false;
      // Sinks hear nothing of a pending alert; passed on so that they
      // decide (the dispatcher drops it).
      Deliver(annotated, transition);
      return;
    }
    case vigie::v1::ALERT_STATE_RESOLVED: {
      // Unknown (not seeded): delivered, as a resolution too many is
      // better than an alert a receiver holds open for ever.
      const bool delivered_before =
          it == open_.end() || it->second.ever_delivered;
      if (it != open_.end()) open_.erase(it);
      if (delivered_before) Deliver(annotated, /*transition=*/true);
      return;
    }
    default:
      if (it != open_.end()) open_.erase(it);
      Deliver(annotated, transition);
      return;
  }
}

void AlertRouter::Refresh() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  for (auto& [fingerprint, entry] : open_) {
    vigie::v1::Alert annotated = entry.alert;
    AnnotateAt(&annotated, now);
    vigie::v1::Alert annotations = AnnotationsOf(annotated);
    const bool changed = !SameAnnotations(annotations, entry.annotations);
    if (changed) {
      entry.annotations = std::move(annotations);
      Publish(vigie::v1::ALERT_UPDATE_KIND_ANNOTATED, annotated);
    }
    if (entry.alert.state() != vigie::v1::ALERT_STATE_FIRING) continue;
    const bool muted = annotated.silenced_by_size() > 0;
    // Unchanged and as delivered (or muted and withdrawn): nothing to do.
    if (!changed && muted != entry.delivered) continue;
    Route(entry, annotated, /*transition=*/false);
  }
}

absl::StatusOr<std::shared_ptr<AlertWatchers::Watcher>> AlertRouter::Watch(
    AlertWatchers::Filter filter, std::function<void()> on_ready) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  std::vector<vigie::v1::AlertUpdate> initial;
  for (const auto& [fingerprint, entry] : open_) {
    vigie::v1::AlertUpdate& update = initial.emplace_back();
    update.set_kind(vigie::v1::ALERT_UPDATE_KIND_CURRENT);
    *update.mutable_alert() = entry.alert;
    AnnotateAt(update.mutable_alert(), now);
  }
  std::sort(
      initial.begin(), initial.end(),
      [](const vigie::v1::AlertUpdate& a, const vigie::v1::AlertUpdate& b) {
        const auto& ta = a.alert().updated_at();
        const auto& tb = b.alert().updated_at();
        if (ta.seconds() != tb.seconds()) {
          return ta.seconds() > tb.seconds();
        }
        if (ta.nanos() != tb.nanos()) return ta.nanos() > tb.nanos();
        return a.alert().fingerprint() < b.alert().fingerprint();
      });
  initial.emplace_back().set_kind(vigie::v1::ALERT_UPDATE_KIND_SYNCED);
  // Under mu_, which Publish needs too: no update falls between the
  // snapshot and the registration.
  return watchers_->Add(std::move(filter), std::move(initial),
                        std::move(on_ready));
}

void AlertRouter::StartTimer(absl::Duration max_wait) {
  absl::MutexLock lock(&timer_mu_);
  if (timer_.joinable() || timer_stopping_) return;
  timer_ = std::thread([this, max_wait] { RunTimer(max_wait); });
}

void AlertRouter::WakeTimer() {
  absl::MutexLock lock(&timer_mu_);
  timer_woken_ = true;
  timer_wake_.Signal();
}

void AlertRouter::StopTimer() {
  std::thread timer;
  {
    absl::MutexLock lock(&timer_mu_);
    timer_stopping_ = true;
    timer_wake_.Signal();
    timer.swap(timer_);
  }
  if (timer.joinable()) timer.join();
}

void AlertRouter::RunTimer(absl::Duration max_wait) {
  while (true) {
    const absl::Time now = clock_->Now();
    // The clock may be a test's, which real time does not move: the wait
    // is bounded in real time, and the check redone.
    const absl::Duration until_change = silences_->NextChange(now) - now;
    {
      absl::MutexLock lock(&timer_mu_);
      const absl::Time deadline =
          absl::Now() +
          std::max(absl::ZeroDuration(), std::min(until_change, max_wait));
      while (!timer_woken_ && !timer_stopping_) {
        if (timer_wake_.WaitWithDeadline(&timer_mu_, deadline)) break;
      }
      if (timer_stopping_) return;
      timer_woken_ = false;
    }
    Refresh();
    if (absl::Status status = silences_->Collect(clock_->Now()); !status.ok()) {
      VIGIE_LOG(Error,
                "cannot delete old silences (retrying): ", status.ToString());
    }
    if (absl::Status status = acknowledgements_->Collect(); !status.ok()) {
      VIGIE_LOG(Error,
                "cannot delete acknowledgements of resolved alerts "
                "(retrying): ",
                status.ToString());
    }
  }
}

}  // namespace vigie::services
