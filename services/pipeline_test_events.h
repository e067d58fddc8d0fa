#pragma once

// What the pipeline's tests share: a declared credit model grouped by sex,
// with panes of an hour, and its outcomes. Header-only, for tests.

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "services/config.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::services::test_events {

inline constexpr int64_t kT0 = 1'767'571'200;  // 2026-01-05T00:00:00Z.

// A prediction of model credit (version v1) for a subject of `group`, at
// `seconds`, with no output yet.
inline vigie::v1::Event CreditPrediction(const std::string& id,
                                         const std::string& group,
                                         int64_t seconds) {
  vigie::v1::Event event;
  vigie::v1::Prediction* p = event.mutable_prediction();
  p->set_model_id("credit");
  p->set_model_version("v1");
  p->set_prediction_id(id);
  p->mutable_event_time()->set_seconds(seconds);
  (*p->mutable_groups())["sex"] = group;
  return event;
}

// The outcome of prediction `id` of model credit, an hour after kT0.
inline vigie::v1::Event CreditOutcome(const std::string& id, bool label) {
  vigie::v1::Event event;
  vigie::v1::Outcome* o = event.mutable_outcome();
  o->set_model_id("credit");
  o->set_prediction_id(id);
  o->mutable_event_time()->set_seconds(kT0 + 3600);
  o->set_binary(label);
  return event;
}

// Model credit (version v1, panes of an hour, labels within a day, groups
// by sex) and no other; no rule. Every group is shown, however small: the
// tests follow a few events per group.
inline ServerConfig CreditConfig() {
  ServerConfig config;
  ModelConfig model;
  model.id = "credit";
  model.versions = {"v1"};
  model.pane_length = absl::Hours(1);
  model.label_delay = absl::Hours(24);
  model.monitors.group_attributes = {"sex"};
  config.models.push_back(model);
  config.accept_undeclared_models = false;
  config.privacy.min_group_size = 1;
  return config;
}

}  // namespace vigie::services::test_events
