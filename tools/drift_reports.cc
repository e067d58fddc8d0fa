#include "tools/drift_reports.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/printing.h"
#include "tools/reference_upload.h"
#include "tools/report_text.h"

namespace vigie::tools {
namespace {

// Features' values span any scale: four significant digits.
std::string Number(double value) { return absl::StrFormat("%.4g", value); }

std::string Fixed(double value, int digits) {
  return absl::StrFormat("%.*f", digits, value);
}

bool IsNumeric(const v1::FeatureProfile& f) { return f.kind() == "numeric"; }

// "reference v2 of model credit".
std::string Title(const v1::ReferenceInfo& info) {
  return absl::StrCat("reference v", info.version(), " of model ",
                      info.model_id());
}

std::string Counts(const v1::ReferenceInfo& info) {
  return absl::StrCat(FormatCount(info.predictions()), " predictions, ",
                      FormatCount(info.labels()), " labels");
}

}  // namespace

void PrintReferenceUploadText(const v1::ReferenceInfo& info,
                              const std::vector<int64_t>& event_lines,
                              std::ostream& out) {
  out << "uploaded " << Title(info) << ": " << Counts(info) << "\n";
  out << "source: " << info.source() << "\n";
  out << "rejected: " << FormatCount(info.rejected()) << " of "
      << FormatCount(event_lines.size()) << " events\n";
  for (const std::string& rejection : info.rejections()) {
    out << "  " << LocateReferenceRejection(rejection, event_lines) << "\n";
  }
  if (info.rejected() > static_cast<uint64_t>(info.rejections_size())) {
    out << "  ... and "
        << FormatCount(info.rejected() -
                       static_cast<uint64_t>(info.rejections_size()))
        << " more\n";
  }
  if (info.features().empty()) return;
  out << "features ('vigiectl reference show' lists their bins):\n";
  std::vector<std::vector<std::string>> rows = {{"feature", "kind", "count",
                                                 "missing", "min", "max",
                                                 "mean", "stddev", "bins"}};
  for (const v1::FeatureProfile& f : info.features()) {
    const bool numeric = IsNumeric(f);
    const std::string absent(kAbsent);
    rows.push_back({f.feature(), f.kind(), FormatCount(f.count()),
                    Fixed(f.missing_rate(), 3),
                    numeric ? Number(f.min()) : absent,
                    numeric ? Number(f.max()) : absent,
                    numeric ? Number(f.mean()) : absent,
                    numeric ? Number(f.stddev()) : absent,
                    FormatCount(static_cast<uint64_t>(f.bin_labels_size()))});
  }
  PrintTable(rows, "  ", out, /*align=*/"ll");
}

void PrintReferenceText(const v1::ReferenceInfo& info, std::ostream& out) {
  out << Title(info) << "\n";
  out << "  source:  " << info.source() << "\n";
  if (info.has_created_at()) {
    out << "  created: " << FormatTime(info.created_at()) << "\n";
  }
  if (info.has_window()) {
    out << "  window:  " << FormatWindow(info.window()) << "\n";
  }
  out << "  counts:  " << Counts(info) << "\n";
  if (info.versions_size() > 0) {
    out << "  versions kept:";
    for (const v1::ReferenceVersion& v : info.versions()) {
      out << " v" << v.version();
    }
    out << "\n";
  }
  for (const v1::FeatureProfile& f : info.features()) {
    out << "\n"
        << f.feature() << " (" << f.kind() << "): " << FormatCount(f.count())
        << " values, missing rate " << Fixed(f.missing_rate(), 3);
    if (IsNumeric(f)) {
      out << ", min " << Number(f.min()) << ", max " << Number(f.max())
          << ", mean " << Number(f.mean()) << ", stddev " << Number(f.stddev());
    }
    out << "\n";
    std::vector<std::vector<std::string>> rows = {{"bin", "proportion"}};
    const int bins = std::max(f.bin_labels_size(), f.proportions_size());
    for (int i = 0; i < bins; ++i) {
      rows.push_back(
          {i < f.bin_labels_size() ? f.bin_labels(i) : std::string(kAbsent),
           i < f.proportions_size() ? Fixed(f.proportions(i), 4)
                                    : std::string(kAbsent)});
    }
    if (bins > 0) PrintTable(rows, "  ", out);
  }
}

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
