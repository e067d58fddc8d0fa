#include "tools/reports.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "proto/alert_names.h"
#include "tools/drift_reports.h"
#include "tools/footprint_text.h"
#include "tools/parsing.h"
#include "tools/performance_report.h"
#include "tools/printing.h"
#include "tools/quality_reports.h"
#include "tools/report_text.h"

namespace vigie::tools {
namespace {

std::string Rate(bool present, double value) {
  return present ? absl::StrFormat("%.3f", value) : std::string(kAbsent);
}

std::string StripPrefix(std::string name, absl::string_view prefix) {
  return absl::StartsWith(name, prefix) ? name.substr(prefix.size()) : name;
}

void PrintGap(absl::string_view name, const v1::Gap& gap,
              std::vector<std::vector<std::string>>* rows) {
  std::string groups;
  if (!gap.high_group().empty() || !gap.low_group().empty()) {
    groups = absl::StrCat("high ", gap.high_group(), ", low ", gap.low_group());
  }
  rows->push_back(
      {std::string(name), Rate(gap.has_value(), gap.value()), groups});
}

// `k`: the server's minimum reported group size; a group below it is
// "fewer than k" where its figures are withheld.
void PrintAttribute(const v1::AttributeFairness& a, uint64_t k,
                    std::ostream& out) {
  const std::string fewer = absl::StrCat("<", FormatCount(k));
  out << "\n"
      << a.attribute() << " (" << FormatCount(a.missing())
      << " predictions without it)\n";
  std::vector<std::vector<std::string>> rows = {{"group", "predictions",
                                                 "labeled", "selection", "TPR",
                                                 "FPR", "FNR", "precision"}};
  bool any_excluded = false;
  for (const v1::GroupMetrics& g : a.groups()) {
    any_excluded |= !g.included_in_gaps();
    rows.push_back({g.included_in_gaps() ? g.group() : g.group() + " *",
                    g.suppressed() || g.selection_suppressed()
                        ? fewer
                        : FormatCount(g.predictions()),
                    g.suppressed() || g.outcomes_suppressed()
                        ? fewer
                        : FormatCount(g.labeled()),
                    Rate(g.has_selection_rate(), g.selection_rate()),
                    Rate(g.has_true_positive_rate(), g.true_positive_rate()),
                    Rate(g.has_false_positive_rate(), g.false_positive_rate()),
                    Rate(g.has_false_negative_rate(), g.false_negative_rate()),
                    Rate(g.has_precision(), g.precision())});
  }
  PrintTable(rows, "  ", out);
  if (any_excluded) {
    out << "  * left out of the gaps: below the minimum group size\n";
  }
  bool any_withheld = false;
  for (const v1::GroupMetrics& g : a.groups()) {
    any_withheld |=
        g.suppressed() || g.selection_suppressed() || g.outcomes_suppressed();
  }
  if (any_withheld) {
    out << "  " << fewer
        << ": withheld, too few to show on their own (privacy."
           "min_group_size); counted in the overall figures\n";
  }
  std::vector<std::vector<std::string>> gaps;
  PrintGap("demographic parity difference", a.demographic_parity_difference(),
           &gaps);
  PrintGap("demographic parity ratio", a.demographic_parity_ratio(), &gaps);
  PrintGap("TPR difference", a.true_positive_rate_difference(), &gaps);
  PrintGap("FPR difference", a.false_positive_rate_difference(), &gaps);
  PrintGap("equalized odds difference", a.equalized_odds_difference(), &gaps);
  PrintTable(gaps, "  ", out);
  if (a.criteria().empty()) return;
  // Each criterion with the test of its defining pair, then the disparate
  // impact of each group against the reference.
  std::vector<std::vector<std::string>> criteria = {
      {"criterion", "max - min", "p", "test", "min / max"}};
  for (const v1::Criterion& c : a.criteria()) {
    const v1::Gap& d = c.difference();
    criteria.push_back({c.name(), Rate(d.has_value(), d.value()),
                        d.has_test()
                            ? absl::StrFormat("%.2g", d.test().p_value())
                            : std::string(kAbsent),
                        d.has_test() ? d.test().test() : std::string(kAbsent),
                        Rate(c.ratio().has_value(), c.ratio().value())});
  }
  PrintTable(criteria, "  ", out);
  for (const v1::Criterion& c : a.criteria()) {
    if (c.name() != "demographic_parity" || c.by_group().empty()) continue;
    out << "  disparate impact against " << a.reference_group() << ":";
    for (const v1::GroupGap& g : c.by_group()) {
      out << " " << g.group() << " "
          << Rate(g.has_ratio_to_reference(), g.ratio_to_reference());
    }
    out << "\n";
  }
}

std::string Value(bool has, double value) {
  return has ? absl::StrFormat("%.4f", value) : std::string(kAbsent);
}

void PrintCalibration(const v1::GetMetricsReply& reply, std::ostream& out) {
  if (!reply.has_calibration()) return;
  const v1::Calibration& c = reply.calibration();
  out << "\ncalibration (" << FormatCount(c.count())
      << " labelled predictions with a probability)\n";
  std::vector<std::vector<std::string>> rows = {
      {"", "ECE", "null ECE p95", "MCE", "Brier", "log loss", "count"}};
  const auto row = [&](const std::string& name, const v1::Calibration& k) {
    rows.push_back(
        {name, Value(k.has_ece(), k.ece()),
         Value(k.has_null_ece_p95(), k.null_ece_p95()),
         Value(k.has_mce(), k.mce()), Value(k.has_brier(), k.brier()),
         Value(k.has_log_loss(), k.log_loss()), FormatCount(k.count())});
  };
  row("model", c);
  for (const v1::GroupCalibration& g : reply.calibration_by_group()) {
    row(absl::StrCat(g.attribute(), "=", g.group()), g.calibration());
  }
  PrintTable(rows, "  ", out);
  std::vector<std::vector<std::string>> bins = {
      {"bin", "count", "mean predicted", "observed", "95% CI"}};
  for (const v1::CalibrationBin& b : c.bins()) {
    if (b.count() == 0) continue;
    bins.push_back({absl::StrFormat("[%.3f, %.3f)", b.lower(), b.upper()),
                    FormatCount(b.count()),
                    Value(b.has_mean_predicted(), b.mean_predicted()),
                    Value(b.has_observed_frequency(), b.observed_frequency()),
                    b.has_observed_lower()
                        ? absl::StrFormat("[%.4f, %.4f]", b.observed_lower(),
                                          b.observed_upper())
                        : std::string(kAbsent)});
  }
  out << "  reliability bins of the model (empty ones omitted):\n";
  PrintTable(bins, "  ", out);
}

}  // namespace

void PrintMetricsText(const v1::GetMetricsReply& reply, std::ostream& out,
                      std::optional<absl::Duration> last) {
  out << "model " << reply.model_id() << ", ";
  // The server resolved the sliding window: show both.
  if (last) out << "last " << FormatDurationWithDays(*last) << ": ";
  out << "window " << FormatWindow(reply.window()) << ": "
      << FormatCount(reply.panes()) << " panes";
  if (reply.covered().has_start() || reply.covered().has_end()) {
    out << " covering " << FormatWindow(reply.covered());
  }
  if (!reply.replicas().empty()) {
    out << "; merged with replicas " << absl::StrJoin(reply.replicas(), ", ");
  }
  out << "\n";
  const v1::ModelCounters& c = reply.counters();
  // Counters are this replica's, even in a model-wide window.
  out << (reply.replicas().empty() ? "" : "this replica's ")
      << "counters: " << FormatCount(c.predictions()) << " predictions, "
      << FormatCount(c.outcomes()) << " outcomes, " << FormatCount(c.joined())
      << " joined; pending " << FormatCount(c.pending_predictions())
      << " predictions, " << FormatCount(c.pending_outcomes())
      << " outcomes; expired " << FormatCount(c.expired_predictions())
      << " predictions, " << FormatCount(c.expired_outcomes())
      << " outcomes; rejected " << FormatCount(c.rejected());
  if (!c.rejected_by_reason().empty()) {
    // Sorted, since protobuf maps have no order.
    std::vector<std::pair<std::string, uint64_t>> reasons(
        c.rejected_by_reason().begin(), c.rejected_by_reason().end());
    std::sort(reasons.begin(), reasons.end());
    out << " (";
    for (size_t i = 0; i < reasons.size(); ++i) {
      out << (i > 0 ? ", " : "") << reasons[i].first << " "
          << FormatCount(reasons[i].second);
    }
    out << ")";
  }
  out << "\n";
  if (reply.fairness().empty() && reply.fairness_by_class().empty()) {
    out << "no group attributes seen\n";
  }
  for (const v1::AttributeFairness& a : reply.fairness())
    PrintAttribute(a, reply.min_reported_group_size(), out);
  for (const v1::ClassFairness& by_class : reply.fairness_by_class()) {
    out << "\nclass " << by_class.class_label() << " against the rest:\n";
    for (const v1::AttributeFairness& a : by_class.fairness()) {
      PrintAttribute(a, reply.min_reported_group_size(), out);
    }
  }
  PrintCalibration(reply, out);
  PrintPerformanceText(reply, out);
  PrintDriftText(reply, out);
  PrintConformalText(reply, out);
  PrintRecommendationText(reply, out);
  PrintFootprintText(reply, out);
}

std::string FormatCitation(const v1::Alert& alert) {
  return AlertCitation(alert);
}

void PrintAlertsText(const v1::ListAlertsReply& reply, std::ostream& out) {
  if (reply.alerts().empty()) {
    out << "no alerts\n";
    return;
  }
  bool first = true;
  for (const v1::Alert& a : reply.alerts()) {
    if (!first) out << "\n";
    first = false;
    std::vector<std::pair<std::string, std::string>> scope(a.scope().begin(),
                                                           a.scope().end());
    std::sort(scope.begin(), scope.end());
    out << StripPrefix(v1::Severity_Name(a.severity()), "SEVERITY_") << " "
        << StripPrefix(v1::AlertState_Name(a.state()), "ALERT_STATE_") << "  "
        << a.rule_id() << " " << a.metric() << "  model " << a.model_id();
    for (const auto& [key, value] : scope) out << " " << key << "=" << value;
    out << "\n  value " << absl::StrFormat("%.4g", a.value());
    if (a.has_value_interval()) {
      const v1::ConfidenceInterval& ci = a.value_interval();
      out << absl::StrFormat(" (%g%% CI [%.4g, %.4g])", 100 * ci.level(),
                             ci.lower(), ci.upper());
    }
    if (a.has_p_value()) out << absl::StrFormat(", p-value %.3g", a.p_value());
    out << "; threshold: value " << a.comparison() << " "
        << absl::StrFormat("%g", a.threshold());
    if (!a.threshold_source().empty())
      out << " (" << a.threshold_source() << ")";
    out << "\n";
    if (!a.high_group().empty() || !a.low_group().empty()) {
      out << "  groups: high " << a.high_group() << ", low " << a.low_group()
          << "\n";
    }
    if (!a.samples().empty()) {
      out << "  samples: " << AlertSamples(a) << "\n";
    }
    if (!a.excluded_groups().empty()) {
      out << "  excluded (too few samples): "
          << absl::StrJoin(a.excluded_groups(), ", ") << "\n";
    }
    out << "  window: " << FormatWindow(a.window());
    if (a.has_started_at()) out << "; started " << FormatTime(a.started_at());
    if (a.has_updated_at()) out << "; updated " << FormatTime(a.updated_at());
    if (a.has_resolved_at())
      out << "; resolved " << FormatTime(a.resolved_at());
    out << "\n  citation: " << FormatCitation(a) << "\n";
    if (!a.silenced_by().empty()) {
      out << "  silenced by " << absl::StrJoin(a.silenced_by(), ", ")
          << " (not sent to the sinks)\n";
    }
    if (!a.acknowledged_by().empty()) {
      out << "  acknowledged by " << a.acknowledged_by() << " at "
          << FormatTime(a.acknowledged_at());
      if (!a.acknowledgement_comment().empty()) {
        out << ": " << a.acknowledgement_comment();
      }
      out << "\n";
    }
    if (!a.message().empty()) out << "  " << a.message() << "\n";
  }
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print JSON: ", status.message().ToString()));
  }
  return json;
}

}  // namespace vigie::tools
