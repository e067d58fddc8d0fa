#include "bench/ingest/server_config.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vigie::bench {
namespace {

// default_model's max_groups in the embedded configuration.
constexpr int kDefaultMaxGroups = 1'000;
constexpr char kLabelDelay[] = "30d";

int MaxGroups(const IngestLoadOptions& options) {
  return std::max(options.groups, kDefaultMaxGroups);
}

}  // namespace

bool NeedsServerConfig(const IngestLoadOptions& options) {
  return options.groups > 0 || options.outcome_rate < 1 ||
         options.task != IngestLoadOptions::Task::kBinary;
}

std::string PendingJoinsConfigYaml(const IngestLoadOptions& options) {
  std::string yaml = absl::StrCat(
      "# Written by ingest_loadgen (bench/ingest/server_config.h). Other\n"
      "# keys keep the defaults of deploy/vigie.yaml; no model is declared.\n"
      "default_model:\n"
      "  max_groups: ",
      MaxGroups(options), "\n  label_delay: ", kLabelDelay, "\n");
  if (options.task == IngestLoadOptions::Task::kMulticlass) {
    absl::StrAppend(&yaml, "  task: ", TaskName(options.task), "\n  classes: [",
                    absl::StrJoin(ClassLabels(options), ", "), "]\n");
  }
  return yaml;
}

std::string PendingJoinsConfigSummary(const IngestLoadOptions& options) {
  std::string summary =
      absl::StrCat("default_model: max_groups ", MaxGroups(options),
                   ", label_delay ", kLabelDelay);
  if (options.task == IngestLoadOptions::Task::kMulticlass) {
    absl::StrAppend(&summary, ", task multiclass, ", options.classes,
                    " classes");
  }
  return summary;
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace vigie::bench
