#include "tools/drift_reports.h"

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "tools/printing.h"
#include "tools/report_text.h"

namespace vigie::tools {
namespace {

std::string Fixed(double value, int digits) {
  return absl::StrFormat("%.*f", digits, value);
}

}  // namespace

void PrintDriftText(const v1::GetMetricsReply& reply, std::ostream& out) {
  if (!reply.drift().empty()) {
    out << "\ndrift against ";
    if (reply.has_reference()) {
      out << "reference v" << reply.reference().version() << " ("
          << reply.reference().source() << ")";
    } else {
      out << "the reference";
    }
    out << "\n";
    std::vector<std::vector<std::string>> rows = {
        {"feature", "method", "count", "statistic", "p-value", "PSI", "JS",
         "missing", "out of range", "verdict"}};
    for (const v1::FeatureDrift& d : reply.drift()) {
      rows.push_back(
          {d.feature(), d.method().empty() ? std::string(kAbsent) : d.method(),
           FormatCount(d.current_count()), Fixed(d.statistic(), 4),
           d.has_p_value() ? absl::StrFormat("%.2g", d.p_value())
                           : std::string(kAbsent),
           Fixed(d.psi(), 4), Fixed(d.jensen_shannon(), 4),
           Fixed(d.missing_rate(), 3), Fixed(d.out_of_range_rate(), 3),
           d.drifted() ? "DRIFTED" : "ok"});
    }
    PrintTable(rows, "  ", out, /*align=*/"llrrrrrrrl");
  }
  const v1::ConceptDrift& c = reply.concept_drift();
  if (c.errors_observed() == 0) return;
  out << "\nconcept drift: " << FormatCount(c.errors_observed())
      << " errors observed; changes: ADWIN " << FormatCount(c.adwin_changes())
      << ", Page-Hinkley " << FormatCount(c.page_hinkley_changes()) << ", DDM "
      << FormatCount(c.ddm_changes());
  if (!c.ddm_state().empty()) out << " (DDM state " << c.ddm_state() << ")";
  out << "; ADWIN window " << FormatCount(c.adwin_width())
      << " errors, mean error " << Fixed(c.adwin_mean(), 4);
  if (!c.changes().empty()) {
    out << "; latest ADWIN change at "
        << FormatTime(c.changes(c.changes_size() - 1));
  }
  out << "\n";
}

}  // namespace vigie::tools
