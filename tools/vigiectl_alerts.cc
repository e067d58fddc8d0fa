#include "tools/vigiectl_alerts.h"

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "tools/alert_reports.h"
#include "tools/client.h"
#include "tools/parsing.h"
#include "tools/printing.h"
#include "tools/reports.h"
#include "tools/vigiectl_common.h"
#include "tools/vigiectl_flags.h"

namespace vigie::tools {

int Alerts() {
  absl::StatusOr<std::string> format = OutputFormat();
  if (!format.ok()) return UsageError(format.status().message());
  v1::ListAlertsRequest request;
  request.set_model_id(absl::GetFlag(FLAGS_model));
  request.set_include_resolved(absl::GetFlag(FLAGS_all));
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  absl::StatusOr<v1::ListAlertsReply> reply =
      (*client)->ListAlerts(request, absl::GetFlag(FLAGS_timeout));
  if (!reply.ok()) return Failure(reply.status());
  if (*format == "text") {
    PrintAlertsText(*reply, std::cout);
    return kExitOk;
  }
  absl::StatusOr<std::string> json = ToJson(*reply);
  if (!json.ok()) return Failure(json.status());
  std::cout << *json;
  return kExitOk;
}

int Watch() {
  absl::StatusOr<std::string> format = OutputFormat();
  if (!format.ok()) return UsageError(format.status().message());
  v1::WatchAlertsRequest request;
  request.set_model_id(absl::GetFlag(FLAGS_model));
  request.set_include_refreshes(absl::GetFlag(FLAGS_refreshes));
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  std::unique_ptr<AlertStream> stream = (*client)->WatchAlerts(request);
  v1::AlertUpdate update;
  while (stream->Next(&update)) {
    if (*format == "text") {
      std::cout << FormatAlertUpdate(update) << std::endl;
      continue;
    }
    // One object per line, so that a pipe can read them as they come.
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    if (!google::protobuf::util::MessageToJsonString(update, &json, options)
             .ok()) {
      return Failure(absl::InternalError("cannot print an update as JSON"));
    }
    std::cout << json << std::endl;
  }
  return Failure(stream->Finish());
}

int History() {
  absl::StatusOr<std::string> format = OutputFormat();
  if (!format.ok()) return UsageError(format.status().message());
  v1::ListAlertHistoryRequest request;
  request.set_model_id(absl::GetFlag(FLAGS_model));
  request.set_fingerprint(absl::GetFlag(FLAGS_fingerprint));
  if (const std::string since = absl::GetFlag(FLAGS_since); !since.empty()) {
    absl::StatusOr<absl::Time> t = ParseTimestamp(since);
    if (!t.ok()) {
      return UsageError(absl::StrCat("--since: ", t.status().message()));
    }
    *request.mutable_since() = ToTimestampProto(*t);
  }
  if (absl::GetFlag(FLAGS_limit) < 0) {
    return UsageError("--limit must not be negative");
  }
  request.set_limit(static_cast<uint32_t>(absl::GetFlag(FLAGS_limit)));
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  absl::StatusOr<v1::ListAlertHistoryReply> reply =
      (*client)->ListAlertHistory(request, absl::GetFlag(FLAGS_timeout));
  if (!reply.ok()) return Failure(reply.status());
  return PrintAs(*format, *reply, [&] { PrintHistoryText(*reply, std::cout); });
}

namespace {

int CreateSilence() {
  v1::CreateSilenceRequest request;
  for (const std::string& match : absl::GetFlag(FLAGS_match)) {
    const size_t eq = match.find('=');
    if (eq == std::string::npos || eq == 0) {
      return UsageError(
          absl::StrCat("--match takes name=value pairs, got '", match, "'"));
    }
    v1::Matcher* matcher = request.add_matchers();
    matcher->set_name(match.substr(0, eq));
    matcher->set_value(match.substr(eq + 1));
  }
  if (request.matchers().empty()) {
    return UsageError("silence create needs --match");
  }
  const std::string duration = absl::GetFlag(FLAGS_duration);
  const std::string until = absl::GetFlag(FLAGS_until);
  if (duration.empty() == until.empty()) {
    return UsageError("silence create needs one of --duration and --until");
  }
  if (!duration.empty()) {
    absl::StatusOr<absl::Duration> d = ParseDurationWithDays(duration);
    if (!d.ok()) {
      return UsageError(absl::StrCat("--duration: ", d.status().message()));
    }
    request.mutable_duration()->set_seconds(absl::ToInt64Seconds(*d));
  } else {
    absl::StatusOr<absl::Time> t = ParseTimestamp(until);
    if (!t.ok()) {
      return UsageError(absl::StrCat("--until: ", t.status().message()));
    }
    *request.mutable_ends_at() = ToTimestampProto(*t);
  }
  if (const std::string starts = absl::GetFlag(FLAGS_starts); !starts.empty()) {
    absl::StatusOr<absl::Time> t = ParseTimestamp(starts);
    if (!t.ok()) {
      return UsageError(absl::StrCat("--starts: ", t.status().message()));
    }
    *request.mutable_starts_at() = ToTimestampProto(*t);
  }
  request.set_created_by(absl::GetFlag(FLAGS_by));
  if (request.created_by().empty()) {
    return UsageError("silence create needs --by");
  }
  request.set_comment(absl::GetFlag(FLAGS_comment));
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  absl::StatusOr<v1::Silence> silence =
      (*client)->CreateSilence(request, absl::GetFlag(FLAGS_timeout));
  if (!silence.ok()) return Failure(silence.status());
  v1::ListSilencesReply created;
  *created.add_silences() = *silence;
  PrintSilencesText(created, std::cout);
  return kExitOk;
}

}  // namespace

int Silence(const std::string& action, const std::set<std::string>& set) {
  if (action == "create") {
    if (auto refused = RejectFlagsOutside(
            set, {"match", "duration", "until", "starts", "by", "comment"},
            "silence create")) {
      return *refused;
    }
    return CreateSilence();
  }
  if (action == "list") {
    if (auto refused =
            RejectFlagsOutside(set, {"all", "format"}, "silence list")) {
      return *refused;
    }
    absl::StatusOr<std::string> format = OutputFormat();
    if (!format.ok()) return UsageError(format.status().message());
    v1::ListSilencesRequest request;
    request.set_include_expired(absl::GetFlag(FLAGS_all));
    absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
    if (!client.ok()) return Failure(client.status());
    absl::StatusOr<v1::ListSilencesReply> reply =
        (*client)->ListSilences(request, absl::GetFlag(FLAGS_timeout));
    if (!reply.ok()) return Failure(reply.status());
    return PrintAs(*format, *reply,
                   [&] { PrintSilencesText(*reply, std::cout); });
  }
  if (action == "expire") {
    if (auto refused = RejectFlagsOutside(set, {"id"}, "silence expire")) {
      return *refused;
    }
    v1::ExpireSilenceRequest request;
    request.set_id(absl::GetFlag(FLAGS_id));
    if (request.id().empty()) return UsageError("silence expire needs --id");
    absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
    if (!client.ok()) return Failure(client.status());
    absl::StatusOr<v1::Silence> silence =
        (*client)->ExpireSilence(request, absl::GetFlag(FLAGS_timeout));
    if (!silence.ok()) return Failure(silence.status());
    v1::ListSilencesReply expired;
    *expired.add_silences() = *silence;
    PrintSilencesText(expired, std::cout);
    return kExitOk;
  }
  return UsageError(
      absl::StrCat("silence takes create, list or expire, got '", action, "'"));
}

int Acknowledge() {
  v1::AcknowledgeAlertRequest request;
  request.set_fingerprint(absl::GetFlag(FLAGS_fingerprint));
  request.set_by(absl::GetFlag(FLAGS_by));
  request.set_comment(absl::GetFlag(FLAGS_comment));
  if (request.fingerprint().empty()) {
    return UsageError("ack needs --fingerprint");
  }
  if (request.by().empty()) return UsageError("ack needs --by");
  absl::StatusOr<std::unique_ptr<VigieClient>> client = ConnectToServer();
  if (!client.ok()) return Failure(client.status());
  absl::StatusOr<v1::Alert> alert =
      (*client)->AcknowledgeAlert(request, absl::GetFlag(FLAGS_timeout));
  if (!alert.ok()) return Failure(alert.status());
  v1::ListAlertsReply acknowledged;
  *acknowledged.add_alerts() = *alert;
  PrintAlertsText(acknowledged, std::cout);
  return kExitOk;
}

}  // namespace vigie::tools
