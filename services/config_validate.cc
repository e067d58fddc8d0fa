// Range checks of the configuration: what a parsed (or hand-built)
// ServerConfig must satisfy before a server starts with it.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "rules/quality_rules.h"
#include "services/config.h"
#include "sinks/kafka.h"

namespace vigie::services {
namespace {

// A size as the YAML writes it: "64MiB" when a whole number of a unit, else
// bytes ("524289").
std::string FormatSize(uint64_t bytes) {
  for (const auto& [unit, shift] :
       {std::pair<const char*, int>{"GiB", 30}, {"MiB", 20}, {"KiB", 10}}) {
    if (bytes != 0 && bytes % (uint64_t{1} << shift) == 0) {
      return absl::StrCat(bytes >> shift, unit);
    }
  }
  return absl::StrCat(bytes);
}

}  // namespace

absl::Status ModelConfig::Footprint::Validate() const {
  for (const auto& [key, value] :
       {std::pair{"baseline_energy_per_1000", baseline_energy_per_1000},
        std::pair{"baseline_carbon_per_1000", baseline_carbon_per_1000},
        std::pair{"energy_budget_per_1000", energy_budget_per_1000},
        std::pair{"carbon_budget_per_1000", carbon_budget_per_1000}}) {
    if (value.has_value() && !(std::isfinite(*value) && *value > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, " must be a positive number, got ", *value));
    }
  }
  return absl::OkStatus();
}

absl::Status ModelConfig::Validate() const {
  const std::string who =
      id.empty() ? "default model" : absl::StrCat("model ", id);
  auto error = [&who](auto... what) {
    return absl::InvalidArgumentError(absl::StrCat(who, ": ", what...));
  };
  if (task != "binary" && task != "multiclass" && task != "regression" &&
      task != "recommendation") {
    return error(
        "task must be \"binary\", \"multiclass\", \"regression\" or "
        "\"recommendation\", got \"",
        task, "\"");
  }
  if (absl::Status s = monitors.footprint != nullptr
                           ? monitors.footprint->Validate()
                           : absl::OkStatus();
      !s.ok()) {
    return error("footprint: ", s.message());
  }
  if (absl::Status s = footprint.Validate(); !s.ok()) {
    return error("footprint: ", s.message());
  }
  if (!(aci_gamma > 0 && aci_gamma <= 1)) {
    return error("aci_gamma must be in (0, 1], got ", aci_gamma);
  }
  if (absl::Status s =
          monitors::ConformalMonitor::Create(monitors.conformal).status();
      !s.ok()) {
    return error("conformal: ", s.message());
  }
  if (absl::Status s =
          monitors::RecommendationMonitor::Create(monitors.recommendation)
              .status();
      !s.ok()) {
    return error("recommendation: ", s.message());
  }
  if (absl::Status s = drift.Validate(); !s.ok()) {
    return error("drift: ", s.message());
  }
  if (absl::Status s = monitors::PerformanceEstimateMonitor::Create(
                           monitors.performance_estimate)
                           .status();
      !s.ok()) {
    return error("performance_estimation: ", s.message());
  }
  if (declared_performance.has_value()) {
    if (task != "binary") {
      return error("declared_performance is for binary models; this one is ",
                   task);
    }
    if (!(declared_performance->value > 0 &&
          declared_performance->value <= 1)) {
      return error("declared_performance.value must be in (0, 1], got ",
                   declared_performance->value);
    }
  }
  if (absl::Status s = monitors::DriftMonitor::Create(monitors.drift).status();
      !s.ok()) {
    return error("drift: ", s.message());
  }
  if (absl::Status s =
          monitors::ErrorStreamDetectors::Create(detectors).status();
      !s.ok()) {
    return error("error-stream detectors: ", s.message());
  }
  if (drift.max_categories > monitors.drift.max_categories) {
    return error("drift_categories (", drift.max_categories,
                 ") must not exceed drift_tracked_categories (",
                 monitors.drift.max_categories, ")");
  }
  if (task != "multiclass" && !classes().empty()) {
    return error("classes are for multiclass models; this one is ", task);
  }
  if (task == "multiclass") {
    if (classes().size() < 2 || classes().size() > 1000) {
      return error("a multiclass model lists 2 to 1000 classes, got ",
                   classes().size());
    }
    std::vector<std::string> sorted = classes();
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (sorted[i].empty() || sorted[i].size() > 256) {
        return error("class labels must have 1 to 256 bytes");
      }
      if (i > 0 && sorted[i] == sorted[i - 1]) {
        return error("class '", sorted[i], "' is listed twice");
      }
    }
  }
  if (!(decision_threshold >= 0 && decision_threshold <= 1)) {
    return error("decision_threshold must be in [0, 1], got ",
                 decision_threshold);
  }
  if (pane_length < absl::Seconds(1) || pane_length > absl::Hours(24 * 366)) {
    return error("pane_length must be in [1s, 366d], got ",
                 absl::FormatDuration(pane_length));
  }
  if (expect_events_every != absl::ZeroDuration() &&
      !(expect_events_every >= absl::Seconds(1) &&
        expect_events_every <= absl::Hours(24 * 366))) {
    return error("expect_events_every must be 0 or in [1s, 366d], got ",
                 absl::FormatDuration(expect_events_every));
  }
  if (reference_window != absl::ZeroDuration() &&
      !(reference_window >= pane_length && reference_window < retention)) {
    return error(
        "reference_window must be 0, or at least pane_length and "
        "less than retention (its panes must still be kept when it "
        "is frozen), got ",
        absl::FormatDuration(reference_window));
  }
  if (reference_versions < 1 || reference_versions > 1000) {
    return error("reference_versions must be in [1, 1000], got ",
                 reference_versions);
  }
  if (label_delay <= absl::ZeroDuration() ||
      label_delay == absl::InfiniteDuration()) {
    return error("label_delay must be finite and > 0, got ",
                 absl::FormatDuration(label_delay));
  }
  if (retention < pane_length || retention == absl::InfiniteDuration()) {
    return error("retention must be finite and at least pane_length (",
                 absl::FormatDuration(pane_length), "), got ",
                 absl::FormatDuration(retention));
  }
  if (max_panes < 1) return error("max_panes must be >= 1");
  if (allowed_lateness < absl::ZeroDuration()) {
    return error("allowed_lateness must be >= 0, got ",
                 absl::FormatDuration(allowed_lateness));
  }
  for (const std::string& version : versions) {
    if (version.empty()) return error("versions has an empty entry");
  }
  // The monitors own their ranges; ask them rather than copy the bounds.
  if (absl::Status s = monitors::ModelMonitors::Create(monitors).status();
      !s.ok()) {
    return error(s.message());
  }
  if (learn_popularity) {
    if (absl::Status s = AcceptsCatalogue(); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("learn_popularity: ", s.message()));
    }
    if (reference_window == absl::ZeroDuration()) {
      return error(
          "learn_popularity needs a reference_window to learn popularity "
          "from");
    }
  }
  if (!catalogue_file.empty()) {
    if (id.empty()) return error("catalogue_file is for listed models");
    if (absl::Status s = AcceptsCatalogue(); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("catalogue_file: ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status ModelConfig::AcceptsCatalogue() const {
  if (task == "recommendation") return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(id.empty() ? std::string("the default model")
                              : absl::StrCat("model '", id, "'"),
                   " is a ", task,
                   " model: an item catalogue is for recommendation models"));
}

const ModelConfig* ServerConfig::FindModel(absl::string_view id) const {
  for (const ModelConfig& model : models) {
    if (model.id == id) return &model;
  }
  return nullptr;
}

absl::Status ServerConfig::Validate() const {
  auto error = [](auto... what) {
    return absl::InvalidArgumentError(absl::StrCat(what...));
  };
  if (data_dir.empty()) return error("data_dir is required");
  if (grpc_address.empty()) return error("grpc_address is required");
  if (!http_address.empty() && http_address.rfind(':') == std::string::npos) {
    return error("http_address must be host:port, got \"", http_address, "\"");
  }
  if (!external_url.empty() && !absl::StartsWith(external_url, "http://") &&
      !absl::StartsWith(external_url, "https://")) {
    return error("external_url must start with http:// or https://, got \"",
                 external_url, "\"");
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return error(
        "tls.cert_file and tls.key_file go together: give both or "
        "neither");
  }
  if (!tls.client_ca_file.empty() && !tls.enabled()) {
    return error(
        "tls.client_ca_file (mutual TLS) needs tls.cert_file and "
        "tls.key_file");
  }
  if (log.level != "debug" && log.level != "info" && log.level != "warning" &&
      log.level != "error") {
    return error("log.level must be debug, info, warning or error, got \"",
                 log.level, "\"");
  }
  if (log.format != "text" && log.format != "json") {
    return error("log.format must be text or json, got \"", log.format, "\"");
  }
  if (metrics.windows.size() > 8) {
    return error("metrics.windows: at most 8, got ", metrics.windows.size());
  }
  for (absl::Duration window : metrics.windows) {
    if (window < absl::Seconds(1) || window > absl::Hours(366 * 24)) {
      return error("metrics.windows must each be in [1s, 366d], got ",
                   absl::FormatDuration(window));
    }
  }
  if (metrics.max_series < 100 || metrics.max_series > 1'000'000) {
    return error("metrics.max_series must be in [100, 1000000], got ",
                 metrics.max_series);
  }
  if (expiry_sweep_interval <= absl::ZeroDuration() ||
      expiry_sweep_interval == absl::InfiniteDuration()) {
    return error("expiry_sweep_interval must be finite and > 0, got ",
                 absl::FormatDuration(expiry_sweep_interval));
  }
  if (checkpoint_interval < absl::Milliseconds(10) ||
      checkpoint_interval > absl::Hours(1)) {
    return error("checkpoint_interval must be in [10ms, 1h], got ",
                 absl::FormatDuration(checkpoint_interval));
  }
  if (privacy.min_group_size < 1 ||
      privacy.min_group_size > uint64_t{1'000'000'000}) {
    return error("privacy.min_group_size must be in [1, 1000000000], got ",
                 privacy.min_group_size);
  }
  if (alerting.history_retention < absl::Hours(1) ||
      alerting.history_retention > absl::Hours(24 * 36500)) {
    return error("alerting.history_retention must be in [1h, 36500d], got ",
                 absl::FormatDuration(alerting.history_retention));
  }
  if (alerting.resend_interval < absl::Milliseconds(100) ||
      alerting.resend_interval > absl::Hours(1)) {
    return error("alerting.resend_interval must be in [100ms, 1h], got ",
                 absl::FormatDuration(alerting.resend_interval));
  }
  if (!alerting.alertmanager_url.empty() &&
      (!absl::StartsWith(alerting.alertmanager_url, "http://") ||
       alerting.alertmanager_url.size() <= 7)) {
    return error("alerting.alertmanager.url must be http://host[:port], got \"",
                 alerting.alertmanager_url, "\"");
  }
  for (const Alerting::Webhook& webhook : alerting.webhooks) {
    if (!absl::StartsWith(webhook.url, "http://") || webhook.url.size() <= 7) {
      return error(
          "alerting.webhooks: url must be http://host[:port][/path], "
          "got \"",
          webhook.url, "\"");
    }
    if (webhook.timeout <= absl::ZeroDuration() ||
        webhook.timeout > absl::Minutes(1)) {
      return error("alerting.webhooks: timeout must be in (0, 1m], got ",
                   absl::FormatDuration(webhook.timeout));
    }
  }
  if (absl::Status s = kafka_ingest.Validate(); !s.ok()) return s;
  if (!alerting.kafka.brokers.empty()) {
    if (absl::Status s = alerting.kafka.Validate(); !s.ok()) {
      return error("alerting.", s.message());
    }
  }
  if (alerting.max_attempts < 1 || alerting.max_attempts > 1000) {
    return error("alerting.max_attempts must be in [1, 1000], got ",
                 alerting.max_attempts);
  }
  if (alerting.alertmanager_timeout <= absl::ZeroDuration() ||
      alerting.alertmanager_timeout > absl::Minutes(1)) {
    return error("alerting.alertmanager.timeout must be in (0, 1m], got ",
                 absl::FormatDuration(alerting.alertmanager_timeout));
  }
  // Sizes, named by their YAML keys; the storage bounds are
  // storage::StateStoreOptions'.
  auto check_size = [&error](absl::string_view key, uint64_t bytes,
                             uint64_t min, uint64_t max) -> absl::Status {
    if (bytes >= min && bytes <= max) return absl::OkStatus();
    return error(key, " must be in [", FormatSize(min), ", ", FormatSize(max),
                 "], got ", FormatSize(bytes));
  };
  RETURN_IF_ERROR(check_size("checkpoint_bytes", checkpoint_bytes,
                             uint64_t{1} << 20, uint64_t{4} << 30));
  RETURN_IF_ERROR(check_size("storage.block_cache", block_cache_bytes,
                             uint64_t{1} << 20, uint64_t{64} << 30));
  RETURN_IF_ERROR(check_size("storage.write_buffer", write_buffer_bytes,
                             uint64_t{4} << 20, uint64_t{64} << 30));
  if (absl::Status s = catalogue.Validate(); !s.ok()) {
    return error("catalogue: ", s.message());
  }
  RETURN_IF_ERROR(default_model.Validate());
  absl::flat_hash_set<absl::string_view> ids;
  for (const ModelConfig& model : models) {
    if (model.id.empty()) return error("a model has no id");
    if (!ids.insert(model.id).second) {
      return error("model \"", model.id, "\" is listed twice");
    }
    RETURN_IF_ERROR(model.Validate());
  }
  RETURN_IF_ERROR(policy.Validate());
  // A rule's window must lie within the panes a model keeps; a
  // recommendation rule's, every window it reads back (it applies to
  // recommenders only).
  for (const rules::Rule& rule : policy.rules) {
    if (rule.window == absl::ZeroDuration()) continue;  // "all": the archive.
    const bool recommendation = rules::IsRecommendationMetric(rule.metric);
    const uint32_t windows =
        recommendation ? rules::RecommendationWindowsRead(rule) : 1;
    const absl::Duration span = rule.window * static_cast<int64_t>(windows);
    auto check = [&](const ModelConfig& model) -> absl::Status {
      const bool applies = (rule.models.empty() ||
                            std::find(rule.models.begin(), rule.models.end(),
                                      model.id) != rule.models.end()) &&
                           (!recommendation || model.task == "recommendation");
      if (!applies || span <= model.retention) return absl::OkStatus();
      return error(model.id.empty() ? std::string("default model")
                                    : absl::StrCat("model ", model.id),
                   ": retention ", absl::FormatDuration(model.retention),
                   " is shorter than ",
                   windows == 1 ? std::string("the window ")
                                : absl::StrCat("the ", windows, " windows of "),
                   absl::FormatDuration(rule.window), " of rule ", rule.id,
                   windows == 1 ? "" : " (it reads them all)");
    };
    RETURN_IF_ERROR(check(default_model));
    for (const ModelConfig& model : models) RETURN_IF_ERROR(check(model));
  }
  return absl::OkStatus();
}

}  // namespace vigie::services
