#include "bench/ingest/loadgen_report.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/printing.h"

namespace vigie::bench {
namespace {

using tools::FormatCount;

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

double PerSecond(uint64_t n, absl::Duration d) {
  const double s = Seconds(d);
  return s > 0 ? static_cast<double>(n) / s : 0;
}

double ToMiB(uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

std::string MiB(uint64_t bytes) {
  return absl::StrFormat("%.1f MiB", ToMiB(bytes));
}

// "86.9 MiB (WAL 80.1, SST 5.2)".
std::string Disk(const DiskUsage& d) {
  return absl::StrFormat("%s (WAL %.1f, SST %.1f)", MiB(d.total), ToMiB(d.wal),
                         ToMiB(d.sst));
}

std::string DiskJson(absl::string_view name, const DiskUsage& d) {
  return absl::StrCat("\"", name, "_bytes\":", d.total, ",\"", name,
                      "_wal_bytes\":", d.wal, ",\"", name,
                      "_sst_bytes\":", d.sst);
}

// Bytes per million events, in MiB.
double MiBPerMillion(uint64_t bytes, uint64_t events) {
  if (events == 0) return 0;
  return static_cast<double>(bytes) / (1 << 20) * 1e6 /
         static_cast<double>(events);
}

std::string Rate(double per_second) {
  return FormatCount(static_cast<uint64_t>(per_second + 0.5));
}

// Display width of UTF-8 text: its code points (enough for "÷").
size_t Width(absl::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// Names left-aligned in a column, then values.
void PrintRows(const std::vector<std::pair<std::string, std::string>>& rows,
               std::ostream& out) {
  // One width for every table, so that they read as one.
  size_t width = 26;
  for (const auto& [name, value] : rows) width = std::max(width, Width(name));
  for (const auto& [name, value] : rows) {
    out << "  " << name << std::string(width - Width(name) + 2, ' ') << value
        << "\n";
  }
}

std::string ConfigText(const ServerConfigUsed& config) {
  switch (config.kind) {
    case ServerConfigUsed::Kind::kEmbeddedDefaults:
      return "embedded defaults";
    case ServerConfigUsed::Kind::kGenerated:
      return absl::StrCat("generated (", config.summary, ")");
    case ServerConfigUsed::Kind::kUserFile:
      return config.path;
  }
  return "";
}

std::string ConfigKind(const ServerConfigUsed& config) {
  switch (config.kind) {
    case ServerConfigUsed::Kind::kEmbeddedDefaults:
      return "embedded_defaults";
    case ServerConfigUsed::Kind::kGenerated:
      return "generated";
    case ServerConfigUsed::Kind::kUserFile:
      return "file";
  }
  return "";
}

std::string Counters(const v1::ModelCounters& c) {
  return absl::StrCat(FormatCount(c.predictions()), " predictions, ",
                      FormatCount(c.outcomes()), " outcomes, ",
                      FormatCount(c.joined()), " joined");
}

std::string CountersJson(absl::string_view prefix, const v1::ModelCounters& c) {
  return absl::StrCat(
      "\"", prefix, "predictions\":", c.predictions(), ",\"", prefix,
      "outcomes\":", c.outcomes(), ",\"", prefix, "joined\":", c.joined(),
      ",\"", prefix, "pending_predictions\":", c.pending_predictions(), ",\"",
      prefix, "pending_outcomes\":", c.pending_outcomes(), ",\"", prefix,
      "expired_predictions\":", c.expired_predictions());
}

// "age_band 3, segment 1,000, sex 2".
std::string Groups(const std::map<std::string, int>& groups) {
  return absl::StrJoin(groups, ", ", [](std::string* out, const auto& entry) {
    absl::StrAppend(out, entry.first, " ",
                    FormatCount(static_cast<uint64_t>(entry.second)));
  });
}

std::string GroupsJson(const std::map<std::string, int>& groups) {
  return absl::StrCat("\"groups_per_attribute\":{",
                      absl::StrJoin(groups, ",",
                                    [](std::string* out, const auto& entry) {
                                      absl::StrAppend(out, "\"", entry.first,
                                                      "\":", entry.second);
                                    }),
                      "}");
}

std::string Millis(absl::Duration d) {
  return absl::StrFormat("%.1f ms", absl::ToDoubleMilliseconds(d));
}

// CPU seconds per million events sent.
double CpuPerMillion(absl::Duration cpu, uint64_t events) {
  if (events == 0) return 0;
  return Seconds(cpu) * 1e6 / static_cast<double>(events);
}

std::string Ratio(double a, double b) {
  return absl::StrFormat("%.3f", b > 0 ? a / b : 0.0);
}

void PrintBare(const LoadgenReport& r, std::ostream& out) {
  const BareReport& b = *r.bare;
  out << "Bare baseline: a decode-only gRPC server (parses and counts the "
         "same requests, nothing else)\n";
  PrintRows(
      {
          {"events sent", FormatCount(b.stream.events_sent)},
          {"accepted", FormatCount(b.stream.reply.accepted())},
          {"seconds", absl::StrFormat("%.2f", Seconds(b.stream.elapsed))},
          {"events/s", Rate(r.bare_events_per_second())},
          {"server CPU during the stream",
           absl::StrFormat("%.2f s, %.2f s per million events",
                           Seconds(b.server_cpu),
                           CpuPerMillion(b.server_cpu, b.stream.events_sent))},
          {"server VmHWM (peak)",
           absl::StrFormat(
               "%s, %.1f MiB per million events", MiB(b.memory.hwm_kb * 1024),
               MiBPerMillion(b.memory.hwm_kb * 1024, b.stream.events_sent))},
          {"Vigie events/s ÷ bare",
           Ratio(r.events_per_second(), r.bare_events_per_second())},
      },
      out);
}

void PrintLatency(const LoadgenReport& r, std::ostream& out) {
  const LatencyReport& l = *r.latency;
  const LatencyStats& s = l.stats;
  out << "Latency: ingest to a queried window, at an offered rate, fresh "
         "server, one connection\n";
  PrintRows(
      {
          {"offered events/s",
           absl::StrCat(Rate(s.offered_rate), " (", l.rate_source, ")")},
          {"sent events/s", Rate(s.achieved_rate)},
          {"events sent", FormatCount(s.stream.events_sent)},
          {"accepted / rejected",
           absl::StrCat(FormatCount(s.stream.reply.accepted()), " / ",
                        FormatCount(s.stream.reply.rejected()))},
          {"requests sent late (>1 ms)", FormatCount(s.late_sends)},
          {"window count", s.counted},
          {"GetMetrics queries",
           absl::StrFormat(
               "%s, mean %s each", FormatCount(s.queries),
               Millis(s.queries > 0
                          ? s.query_time / static_cast<int64_t>(s.queries)
                          : absl::ZeroDuration()))},
          {"requests timed",
           FormatCount(static_cast<uint64_t>(s.latencies.size()))},
          {"latency p50", Millis(l.p50)},
          {"latency p99", Millis(l.p99)},
          {"latency max", Millis(l.max)},
      },
      out);
}

void PrintRestart(const LoadgenReport& r, std::ostream& out) {
  const RestartReport& restart = *r.restart;
  const std::string differences =
      CounterDifferences(r.counters, restart.counters);
  out << "Recovery: the server SIGKILLed once the stream had ended, then "
         "started again on its data folder\n";
  PrintRows(
      {
          {"port file written after",
           absl::StrFormat("%.2f s", Seconds(restart.until_port))},
          {"GetMetrics answered after",
           absl::StrFormat("%.2f s", Seconds(restart.until_serving))},
          {"server counters", Counters(restart.counters)},
          {"pending predictions",
           FormatCount(restart.counters.pending_predictions())},
          {"counters as before kill",
           differences.empty() ? "yes" : absl::StrCat("NO: ", differences)},
          {"VmRSS / VmHWM, serving",
           absl::StrFormat("%.1f / %.1f MiB",
                           ToMiB(restart.memory.rss_kb * 1024),
                           ToMiB(restart.memory.hwm_kb * 1024))},
      },
      out);
}

}  // namespace

std::string CounterDifferences(const v1::ModelCounters& before,
                               const v1::ModelCounters& after) {
  std::vector<std::string> differences;
  const auto compare = [&](absl::string_view name, uint64_t b, uint64_t a) {
    if (a != b) {
      differences.push_back(
          absl::StrCat(name, " ", FormatCount(b), " -> ", FormatCount(a)));
    }
  };
  compare("predictions", before.predictions(), after.predictions());
  compare("outcomes", before.outcomes(), after.outcomes());
  compare("joined", before.joined(), after.joined());
  compare("pending_predictions", before.pending_predictions(),
          after.pending_predictions());
  return absl::StrJoin(differences, ", ");
}

double LoadgenReport::events_per_second() const {
  return PerSecond(stream.events_sent, stream.elapsed);
}

double LoadgenReport::server_cpu_us_per_event() const {
  if (stream.events_sent == 0) return 0;
  return absl::ToDoubleMicroseconds(server_cpu) /
         static_cast<double>(stream.events_sent);
}

double LoadgenReport::puts_per_second() const {
  return baseline ? PerSecond(baseline->puts, baseline->elapsed) : 0;
}

double LoadgenReport::bare_events_per_second() const {
  return bare ? PerSecond(bare->stream.events_sent, bare->stream.elapsed) : 0;
}

void SummarizeLatency(LatencyReport& report) {
  std::vector<absl::Duration> sorted = report.stats.latencies;
  if (sorted.empty()) return;
  std::sort(sorted.begin(), sorted.end());
  // Nearest rank: the smallest value with at least q of them at or below.
  const auto rank = [&](double q) {
    const auto n = static_cast<double>(sorted.size());
    const auto k = static_cast<size_t>(std::ceil(q * n));
    return sorted[std::clamp<size_t>(k, 1, sorted.size()) - 1];
  };
  report.p50 = rank(0.50);
  report.p99 = rank(0.99);
  report.max = sorted.back();
}

void PrintReportTable(const LoadgenReport& r, std::ostream& out) {
  const v1::IngestReply& reply = r.stream.reply;
  out << "Durable ingest: the real server over gRPC on loopback\n";
  PrintRows(
      {
          {"predictions",
           FormatCount(static_cast<uint64_t>(r.options.predictions))},
          {"shape", ShapeSummary(r.options)},
          {"reference uploaded",
           r.reference ? absl::StrCat(FormatCount(r.reference->predictions()),
                                      " predictions, ",
                                      r.reference->features_size(), " profiles")
                       : std::string("none")},
          {"server configuration", ConfigText(r.server_config)},
          {"events sent", FormatCount(r.stream.events_sent)},
          {"connections", absl::StrCat(r.options.connections)},
          {"batch size",
           FormatCount(static_cast<uint64_t>(r.options.batch_size))},
          {"seconds", absl::StrFormat("%.2f", Seconds(r.stream.elapsed))},
          {"events/s", Rate(r.events_per_second())},
          {"server CPU during the stream",
           absl::StrFormat("%.2f s, %.2f µs per event, %.2f s per million",
                           Seconds(r.server_cpu), r.server_cpu_us_per_event(),
                           CpuPerMillion(r.server_cpu, r.stream.events_sent))},
          {"server bytes written during the stream",
           absl::StrCat(MiB(r.server_written_bytes), ", ",
                        MiB(static_cast<uint64_t>(
                            static_cast<double>(r.server_written_bytes) * 1e6 /
                            static_cast<double>(
                                std::max<uint64_t>(r.stream.events_sent, 1)))),
                        " per million events")},
          {"accepted", FormatCount(reply.accepted())},
          {"rejected", FormatCount(reply.rejected())},
          {"joined", FormatCount(reply.joined())},
          {"server VmRSS at end", MiB(r.server.rss_kb * 1024)},
          {"server VmHWM (peak)",
           absl::StrFormat(
               "%s, %.1f MiB per million events", MiB(r.server.hwm_kb * 1024),
               MiBPerMillion(r.server.hwm_kb * 1024, r.stream.events_sent))},
          {"server counters", Counters(r.counters)},
          {"pending predictions",
           FormatCount(r.counters.pending_predictions())},
          {"groups per attribute", Groups(r.groups_per_attribute)},
          {"conformal coverage",
           r.conformal
               ? absl::StrFormat("%.3f of %s joined sets, mean size %.2f",
                                 r.conformal->coverage(),
                                 FormatCount(r.conformal->count()),
                                 r.conformal->mean_size())
               : std::string("none (no sets joined)")},
          {"GetMetrics seconds",
           absl::StrFormat("%.2f", Seconds(r.metrics_elapsed))},
          {"VmRSS, max sampled",
           absl::StrFormat("%s (%s samples, every %s, until GetMetrics)",
                           MiB(r.server_samples.max_rss_kb * 1024),
                           FormatCount(r.server_samples.count),
                           absl::FormatDuration(r.sample_interval))},
          {"VmHWM after GetMetrics", MiB(r.server_samples.final_hwm_kb * 1024)},
          {"data folder, running", Disk(r.data_running)},
          {"data folder, stopped", Disk(r.data_stopped)},
          {"data per million events",
           absl::StrFormat("%.1f MiB", MiBPerMillion(r.data_stopped.total,
                                                     r.stream.events_sent))},
          {"data folder, compacted", Disk(r.data_compacted)},
          {"compacted per million events",
           absl::StrFormat("%.1f MiB", MiBPerMillion(r.data_compacted.total,
                                                     r.stream.events_sent))},
      },
      out);
  if (r.restart) PrintRestart(r, out);
  if (r.bare) PrintBare(r, out);
  if (r.latency) PrintLatency(r, out);
  if (!r.baseline) return;
  const PutBaseline& b = *r.baseline;
  out << "Baseline: one RocksDB Put per prediction (default options, WAL on, "
         "no sync), one thread\n";
  PrintRows(
      {
          {"puts", FormatCount(b.puts)},
          {"key + value bytes (mean)",
           absl::StrFormat(
               "%.0f + %.0f",
               static_cast<double>(b.key_bytes) /
                   static_cast<double>(std::max<uint64_t>(b.puts, 1)),
               static_cast<double>(b.value_bytes) /
                   static_cast<double>(std::max<uint64_t>(b.puts, 1)))},
          {"seconds", absl::StrFormat("%.2f", Seconds(b.elapsed))},
          {"puts/s", Rate(r.puts_per_second())},
          {"data folder, closed", Disk(b.disk)},
          {"server events/s ÷ puts/s",
           absl::StrFormat("%.3f",
                           r.puts_per_second() > 0
                               ? r.events_per_second() / r.puts_per_second()
                               : 0.0)},
      },
      out);
}

std::string ReportJson(const LoadgenReport& r) {
  const v1::IngestReply& reply = r.stream.reply;
  std::vector<std::string> fields = {
      absl::StrCat("\"benchmark\":\"ingest_loadgen\""),
      absl::StrCat("\"predictions\":", r.options.predictions),
      absl::StrFormat("\"outcome_rate\":%g", r.options.outcome_rate),
      absl::StrCat("\"groups\":", r.options.groups),
      absl::StrCat("\"group_attributes\":", r.options.group_attributes),
      absl::StrCat("\"simulator_groups\":",
                   r.options.simulator_groups ? "true" : "false"),
      absl::StrCat("\"features\":", r.options.features),
      absl::StrFormat("\"spacing_seconds\":%g",
                      absl::ToDoubleSeconds(r.options.spacing)),
      absl::StrCat("\"task\":\"", TaskName(r.options.task), "\""),
      absl::StrCat("\"classes\":",
                   r.options.task == IngestLoadOptions::Task::kMulticlass
                       ? r.options.classes
                       : 0),
      absl::StrCat("\"reference_predictions\":",
                   r.reference ? r.reference->predictions() : 0),
      absl::StrCat("\"server_config\":\"", ConfigKind(r.server_config), "\""),
      absl::StrCat("\"events\":", r.stream.events_sent),
      absl::StrCat("\"connections\":", r.options.connections),
      absl::StrCat("\"batch_size\":", r.options.batch_size),
      absl::StrFormat("\"seconds\":%.3f", Seconds(r.stream.elapsed)),
      absl::StrFormat("\"events_per_s\":%.0f", r.events_per_second()),
      absl::StrFormat("\"server_cpu_seconds\":%.3f", Seconds(r.server_cpu)),
      absl::StrFormat("\"server_cpu_seconds_per_million_events\":%.3f",
                      CpuPerMillion(r.server_cpu, r.stream.events_sent)),
      absl::StrFormat("\"server_written_bytes\":%d", r.server_written_bytes),
      absl::StrCat("\"accepted\":", reply.accepted()),
      absl::StrCat("\"rejected\":", reply.rejected()),
      absl::StrCat("\"joined\":", reply.joined()),
      absl::StrCat("\"server_vmrss_kb\":", r.server.rss_kb),
      absl::StrCat("\"server_vmhwm_kb\":", r.server.hwm_kb),
      absl::StrFormat(
          "\"server_vmhwm_mib_per_million_events\":%.2f",
          MiBPerMillion(r.server.hwm_kb * 1024, r.stream.events_sent)),
      CountersJson("counters_", r.counters),
      GroupsJson(r.groups_per_attribute),
      absl::StrFormat("\"conformal_coverage\":%.4f,\"conformal_sets\":%d",
                      r.conformal ? r.conformal->coverage() : 0.0,
                      r.conformal ? r.conformal->count() : 0),
      absl::StrFormat("\"metrics_seconds\":%.3f", Seconds(r.metrics_elapsed)),
      absl::StrCat("\"memory_samples\":", r.server_samples.count),
      absl::StrCat("\"server_vmrss_max_sampled_kb\":",
                   r.server_samples.max_rss_kb),
      absl::StrCat("\"server_vmhwm_final_kb\":", r.server_samples.final_hwm_kb),
      DiskJson("data_running", r.data_running),
      DiskJson("data_stopped", r.data_stopped),
      absl::StrFormat(
          "\"data_mib_per_million_events\":%.2f",
          MiBPerMillion(r.data_stopped.total, r.stream.events_sent)),
      DiskJson("data_compacted", r.data_compacted),
      absl::StrFormat(
          "\"compacted_mib_per_million_events\":%.2f",
          MiBPerMillion(r.data_compacted.total, r.stream.events_sent)),
  };
  if (r.restart) {
    const RestartReport& restart = *r.restart;
    fields.push_back(absl::StrFormat("\"restart_port_seconds\":%.3f",
                                     Seconds(restart.until_port)));
    fields.push_back(absl::StrFormat("\"restart_serving_seconds\":%.3f",
                                     Seconds(restart.until_serving)));
    fields.push_back(CountersJson("restart_", restart.counters));
    fields.push_back(absl::StrCat(
        "\"restart_counters_match\":",
        CounterDifferences(r.counters, restart.counters).empty() ? "true"
                                                                 : "false"));
    fields.push_back(
        absl::StrCat("\"restart_vmrss_kb\":", restart.memory.rss_kb));
    fields.push_back(
        absl::StrCat("\"restart_vmhwm_kb\":", restart.memory.hwm_kb));
  }
  if (r.bare) {
    const BareReport& b = *r.bare;
    fields.push_back(absl::StrCat("\"bare_events\":", b.stream.events_sent));
    fields.push_back(
        absl::StrFormat("\"bare_seconds\":%.3f", Seconds(b.stream.elapsed)));
    fields.push_back(absl::StrFormat("\"bare_events_per_s\":%.0f",
                                     r.bare_events_per_second()));
    fields.push_back(
        absl::StrFormat("\"bare_cpu_seconds\":%.3f", Seconds(b.server_cpu)));
    fields.push_back(absl::StrCat("\"bare_vmhwm_kb\":", b.memory.hwm_kb));
    fields.push_back(
        absl::StrCat("\"events_per_s_over_bare\":",
                     Ratio(r.events_per_second(), r.bare_events_per_second())));
  }
  if (r.latency) {
    const LatencyReport& l = *r.latency;
    fields.push_back(absl::StrFormat("\"latency_offered_events_per_s\":%.0f",
                                     l.stats.offered_rate));
    fields.push_back(absl::StrFormat("\"latency_sent_events_per_s\":%.0f",
                                     l.stats.achieved_rate));
    fields.push_back(
        absl::StrCat("\"latency_events\":", l.stats.stream.events_sent));
    fields.push_back(
        absl::StrCat("\"latency_accepted\":", l.stats.stream.reply.accepted()));
    fields.push_back(
        absl::StrCat("\"latency_late_sends\":", l.stats.late_sends));
    fields.push_back(absl::StrCat("\"latency_queries\":", l.stats.queries));
    fields.push_back(absl::StrFormat("\"latency_p50_ms\":%.2f",
                                     absl::ToDoubleMilliseconds(l.p50)));
    fields.push_back(absl::StrFormat("\"latency_p99_ms\":%.2f",
                                     absl::ToDoubleMilliseconds(l.p99)));
    fields.push_back(absl::StrFormat("\"latency_max_ms\":%.2f",
                                     absl::ToDoubleMilliseconds(l.max)));
  }
  if (r.baseline) {
    const PutBaseline& b = *r.baseline;
    fields.push_back(absl::StrCat("\"baseline_puts\":", b.puts));
    fields.push_back(
        absl::StrFormat("\"baseline_seconds\":%.3f", Seconds(b.elapsed)));
    fields.push_back(
        absl::StrFormat("\"baseline_puts_per_s\":%.0f", r.puts_per_second()));
    fields.push_back(absl::StrCat("\"baseline_value_bytes\":", b.value_bytes));
    fields.push_back(DiskJson("baseline_disk", b.disk));
    fields.push_back(absl::StrFormat(
        "\"events_per_s_over_puts_per_s\":%.4f",
        r.puts_per_second() > 0 ? r.events_per_second() / r.puts_per_second()
                                : 0.0));
  }
  return absl::StrCat("{", absl::StrJoin(fields, ","), "}");
}

}  // namespace vigie::bench
