#include "sinks/alert_dispatcher.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "common/log.h"

namespace vigie::sinks {

AlertDispatcher::AlertDispatcher(std::vector<std::unique_ptr<AlertSink>> sinks,
                                 DispatcherOptions options)
    : options_(options) {
  {
    absl::MutexLock lock(&mu_);
    for (std::unique_ptr<AlertSink>& sink : sinks) {
      Sink& s = sinks_.emplace_back();
      s.stats.name = sink->name();
      s.sink = std::move(sink);
      s.backoff = options_.initial_backoff;
    }
    next_resend_ = absl::Now() + options_.resend_interval;
  }
  thread_ = std::thread([this] { Run(); });
}

AlertDispatcher::~AlertDispatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.Signal();
  }
  thread_.join();
}

void AlertDispatcher::Update(const vigie::v1::Alert& alert, bool transition) {
  const vigie::v1::AlertState state = alert.state();
  if (state != vigie::v1::ALERT_STATE_FIRING &&
      state != vigie::v1::ALERT_STATE_RESOLVED) {
    return;  // Pending or inactive: nothing a receiver hears of.
  }
  absl::MutexLock lock(&mu_);
  if (state == vigie::v1::ALERT_STATE_FIRING) {
    firing_[alert.fingerprint()] = alert;
  } else {
    firing_.erase(alert.fingerprint());
  }
  // A refresh of a firing alert's values goes out with the next resend.
  if (!transition) return;
  const uint64_t version = ++version_;
  for (Sink& sink : sinks_) {
    sink.waiting[alert.fingerprint()] = {alert, version};
  }
  wake_.Signal();
}

void AlertDispatcher::Withdraw(const std::string& fingerprint) {
  absl::MutexLock lock(&mu_);
  firing_.erase(fingerprint);
  for (Sink& sink : sinks_) sink.waiting.erase(fingerprint);
}

std::vector<AlertDispatcher::SinkStats> AlertDispatcher::Stats() const {
  absl::MutexLock lock(&mu_);
  std::vector<SinkStats> stats;
  for (const Sink& sink : sinks_) {
    stats.push_back(sink.stats);
    stats.back().waiting = sink.waiting.size();
  }
  return stats;
}

bool AlertDispatcher::Due(absl::Time now, std::vector<size_t>* due,
                          absl::Time* next) {
  if (now >= next_resend_) {
    const uint64_t version = ++version_;
    for (Sink& sink : sinks_) {
      for (const auto& [fingerprint, alert] : firing_) {
        // A state already waiting is as recent: keep it.
        sink.waiting.try_emplace(fingerprint, alert, version);
      }
    }
    next_resend_ = now + options_.resend_interval;
  }
  *next = next_resend_;
  for (size_t i = 0; i < sinks_.size(); ++i) {
    const Sink& sink = sinks_[i];
    if (sink.waiting.empty()) continue;
    if (now >= sink.next_try) {
      due->push_back(i);
    } else {
      *next = std::min(*next, sink.next_try);
    }
  }
  return !due->empty();
}

void AlertDispatcher::Deliver(size_t index) {
  std::vector<vigie::v1::Alert> batch;
  std::map<std::string, uint64_t> versions;
  AlertSink* sink = nullptr;
  {
    absl::MutexLock lock(&mu_);
    Sink& s = sinks_[index];
    sink = s.sink.get();
    for (const auto& [fingerprint, entry] : s.waiting) {
      batch.push_back(entry.first);
      versions[fingerprint] = entry.second;
    }
  }
  // Outside the lock: Update must never wait on a receiver.
  const absl::Status status = sink->Deliver(batch, absl::Now());
  std::vector<vigie::v1::Alert> given_up;
  std::string name;
  {
    absl::MutexLock lock(&mu_);
    Sink& s = sinks_[index];
    name = s.stats.name;
    if (status.ok()) {
      // What changed during the call stays, to be sent next.
      for (const auto& [fingerprint, version] : versions) {
        auto it = s.waiting.find(fingerprint);
        if (it != s.waiting.end() && it->second.second == version) {
          s.waiting.erase(it);
        }
      }
      ++s.stats.deliveries;
      s.stats.alerts_sent += batch.size();
      s.backoff = options_.initial_backoff;
      s.failures_in_a_row = 0;
      s.next_try = absl::InfinitePast();
      return;
    }
    ++s.stats.failed_attempts;
    s.stats.last_error = status.ToString();
    s.next_try = absl::Now() + s.backoff;
    if (++s.failures_in_a_row < options_.max_attempts) {
      VIGIE_LOG(Warning, "alert delivery to ", name, " failed (", batch.size(),
                " alerts, next try in ", absl::FormatDuration(s.backoff),
                "): ", status.ToString());
      s.backoff = std::min(s.backoff * 2, options_.max_backoff);
      return;
    }
    // Given up: what was tried goes to the dead letters, unless it changed
    // during the call (then its new state is tried).
    for (const auto& [fingerprint, version] : versions) {
      auto it = s.waiting.find(fingerprint);
      if (it != s.waiting.end() && it->second.second == version) {
        given_up.push_back(std::move(it->second.first));
        s.waiting.erase(it);
      }
    }
    s.stats.dead_lettered += given_up.size();
    s.failures_in_a_row = 0;
  }
  VIGIE_LOG(Error, "alert delivery to ", name, " failed ",
            options_.max_attempts, " times in a row; ", given_up.size(),
            " alerts dead-lettered: ", status.ToString());
  // Outside the lock too: it writes a file.
  if (options_.dead_letter) options_.dead_letter(name, given_up, status);
}

void AlertDispatcher::Run() {
  while (true) {
    std::vector<size_t> due;
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      absl::Time next;
      while (!Due(absl::Now(), &due, &next) && !stopping_) {
        wake_.WaitWithDeadline(&mu_, next);
      }
      stopping = stopping_;
    }
    for (size_t index : due) Deliver(index);
    if (stopping) return;
  }
}

}  // namespace vigie::sinks
