#include "services/alert_watchers.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace vigie::services {

bool AlertWatchers::Filter::Passes(const vigie::v1::AlertUpdate& update) const {
  if (update.kind() == vigie::v1::ALERT_UPDATE_KIND_REFRESH &&
      !include_refreshes) {
    return false;
  }
  return model_id.empty() || !update.has_alert() ||
         update.alert().model_id() == model_id;
}

AlertWatchers::Watcher::Watcher(Filter filter,
                                std::deque<vigie::v1::AlertUpdate> initial,
                                std::function<void()> on_ready,
                                size_t max_queued)
    : filter_(std::move(filter)),
      on_ready_(std::move(on_ready)),
      max_queued_(max_queued),
      initial_(std::move(initial)) {}

AlertWatchers::Watcher::Next AlertWatchers::Watcher::Take() {
  absl::MutexLock lock(&mu_);
  Next next;
  if (end_.has_value()) {
    next.end = *end_;
  } else if (!initial_.empty()) {
    next.update = std::move(initial_.front());
    initial_.pop_front();
  } else if (!queue_.empty()) {
    next.update = std::move(queue_.front());
    queue_.pop_front();
  } else {
    armed_ = !closed_;
  }
  return next;
}

void AlertWatchers::Watcher::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  armed_ = false;
  initial_.clear();
  queue_.clear();
}

bool AlertWatchers::Watcher::Push(const vigie::v1::AlertUpdate& update) {
  absl::MutexLock lock(&mu_);
  if (closed_ || end_.has_value()) return false;
  if (queue_.size() >= max_queued_) {
    // Dropped at once: the client re-synchronises by watching again, and
    // the memory is back now rather than when it catches up.
    initial_.clear();
    queue_.clear();
    end_ = absl::ResourceExhaustedError(absl::StrCat(
        "this watcher fell more than ", max_queued_,
        " alert updates behind and was cut off; watch again to start from "
        "the current alerts"));
  } else {
    queue_.push_back(update);
  }
  const bool notify = armed_;
  armed_ = false;
  return notify;
}

bool AlertWatchers::Watcher::End(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  if (closed_ || end_.has_value()) return false;
  initial_.clear();
  queue_.clear();
  end_ = status;
  const bool notify = armed_;
  armed_ = false;
  return notify;
}

bool AlertWatchers::Watcher::Done() const {
  absl::MutexLock lock(&mu_);
  return closed_ || end_.has_value();
}

AlertWatchers::AlertWatchers() : AlertWatchers(Options()) {}

AlertWatchers::AlertWatchers(Options options) : options_(options) {}

absl::StatusOr<std::shared_ptr<AlertWatchers::Watcher>> AlertWatchers::Add(
    Filter filter, std::vector<vigie::v1::AlertUpdate> initial,
    std::function<void()> on_ready) {
  std::deque<vigie::v1::AlertUpdate> passing;
  for (vigie::v1::AlertUpdate& update : initial) {
    if (filter.Passes(update)) passing.push_back(std::move(update));
  }
  // Not make_shared: the constructor is private.
  std::shared_ptr<Watcher> watcher(
      new Watcher(std::move(filter), std::move(passing), std::move(on_ready),
                  std::max<size_t>(options_.max_queued, 1)));
  absl::MutexLock lock(&mu_);
  if (shut_down_.has_value()) return *shut_down_;
  watchers_.push_back(watcher);
  return watcher;
}

void AlertWatchers::Publish(const vigie::v1::AlertUpdate& update) {
  std::vector<std::shared_ptr<Watcher>> ready;
  {
    absl::MutexLock lock(&mu_);
    // Watchers that are done go here rather than when they finish, so that
    // a consumer never has to take this lock.
    watchers_.erase(std::remove_if(watchers_.begin(), watchers_.end(),
                                   [](const std::shared_ptr<Watcher>& watcher) {
                                     return watcher->Done();
                                   }),
                    watchers_.end());
    for (const std::shared_ptr<Watcher>& watcher : watchers_) {
      if (watcher->filter_.Passes(update) && watcher->Push(update)) {
        ready.push_back(watcher);
      }
    }
  }
  for (const std::shared_ptr<Watcher>& watcher : ready) watcher->on_ready_();
}

void AlertWatchers::Shutdown(const absl::Status& status) {
  std::vector<std::shared_ptr<Watcher>> ready;
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = status;
    for (const std::shared_ptr<Watcher>& watcher : watchers_) {
      if (watcher->End(status)) ready.push_back(watcher);
    }
    watchers_.clear();
  }
  for (const std::shared_ptr<Watcher>& watcher : ready) watcher->on_ready_();
}

size_t AlertWatchers::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<size_t>(
      std::count_if(watchers_.begin(), watchers_.end(),
                    [](const std::shared_ptr<Watcher>& watcher) {
                      return !watcher->Done();
                    }));
}

}  // namespace vigie::services
