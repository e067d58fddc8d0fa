#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "tools/event_source.h"

namespace vigie::testutil {

// An EventSource over events built in a test: one record per event, lines
// numbered from 1.
class VectorSource final : public tools::EventSource {
 public:
  explicit VectorSource(std::vector<v1::Event> events)
      : events_(std::move(events)) {}

  bool Next(tools::EventRecord* out) override {
    if (next_ >= events_.size()) return false;
    *out = tools::EventRecord();
    out->line = static_cast<int64_t>(next_ + 1);
    out->events.push_back(events_[next_++]);
    return true;
  }
  uint64_t records_read() const override { return next_; }
  uint64_t total_records() const override { return events_.size(); }

 private:
  std::vector<v1::Event> events_;
  size_t next_ = 0;
};

}  // namespace vigie::testutil
