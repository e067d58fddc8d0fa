#include "tools/performance_report.h"

#include <string>

#include "absl/strings/str_format.h"
#include "tools/printing.h"
#include "tools/report_text.h"

namespace vigie::tools {
namespace {

// "0.6857 [0.6691, 0.7023]", or "—".
std::string Value(bool has, const v1::PerformanceValue& v) {
  if (!has) return std::string(kAbsent);
  return absl::StrFormat("%.4f [%.4f, %.4f]", v.value(), v.lower_95(),
                         v.upper_95());
}

void PrintScope(const v1::PerformanceScope& s, std::ostream& out) {
  out << FormatCount(s.predictions()) << " predictions, "
      << FormatCount(s.labelled()) << " with their outcome";
  if (s.extrapolated() > 0) {
    out << ", " << FormatCount(s.extrapolated())
        << " in score bins the reference never saw";
  }
  out << "\n";
  const v1::PerformanceValues& e = s.estimated();
  const v1::PerformanceValues& r = s.realised();
  out << absl::StrFormat("    %-10s %-26s %s\n", "", "estimated", "realised");
  const auto row = [&](const char* name, bool has_e,
                       const v1::PerformanceValue& ve, bool has_r,
                       const v1::PerformanceValue& vr) {
    out << absl::StrFormat("    %-10s %-26s %s\n", name, Value(has_e, ve),
                           Value(has_r, vr));
  };
  row("accuracy", e.has_accuracy(), e.accuracy(), r.has_accuracy(),
      r.accuracy());
  row("precision", e.has_precision(), e.precision(), r.has_precision(),
      r.precision());
  row("recall", e.has_recall(), e.recall(), r.has_recall(), r.recall());
  row("f1", e.has_f1(), e.f1(), r.has_f1(), r.f1());
}

}  // namespace

void PrintPerformanceText(const v1::GetMetricsReply& reply, std::ostream& out) {
  if (!reply.has_performance_estimate()) return;
  const v1::PerformanceEstimate& pe = reply.performance_estimate();
  out << "\nperformance, estimated from the scores (CBPE) and realised";
  if (pe.reference_labelled() > 0) {
    out << absl::StrFormat(
        " (%s calibration over %d score bins, learned on %s labelled "
        "reference predictions)",
        pe.calibration(), pe.bins(), FormatCount(pe.reference_labelled()));
  } else {
    out << " (nothing estimated: the reference has no outcome)";
  }
  out << ":\n  model: ";
  PrintScope(pe.model(), out);
  for (const v1::PerformanceScope& g : pe.groups()) {
    out << "  " << g.attribute() << " = " << g.group();
    if (g.suppressed()) {
      // services/small_groups.h: too few to show on its own.
      out << ": fewer than " << FormatCount(reply.min_reported_group_size())
          << " predictions, withheld\n";
      continue;
    }
    out << (g.own_calibration() ? "" : " (the model's calibration)") << ": ";
    PrintScope(g, out);
  }
}

}  // namespace vigie::tools
