#include "tools/client.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "vigie/v1/vigie.grpc.pb.h"

namespace vigie::tools {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

void SetTimeout(absl::Duration timeout, grpc::ClientContext* context) {
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
}

// One unary call with a deadline, its status in Abseil's terms.
template <typename Request, typename Reply, typename Call>
absl::StatusOr<Reply> Unary(Call call, const Request& request,
                            absl::Duration timeout) {
  grpc::ClientContext context;
  SetTimeout(timeout, &context);
  Reply reply;
  if (grpc::Status s = call(&context, request, &reply); !s.ok()) {
    return FromGrpc(s);
  }
  return reply;
}

}  // namespace

struct VigieClient::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Vigie::Stub> stub;
  std::string token;

  // The bearer token, on the calls that need it (and the others: the
  // server ignores it there).
  void Authorize(grpc::ClientContext* context) const {
    if (!token.empty())
      context->AddMetadata("authorization", "Bearer " + token);
  }
};

VigieClient::VigieClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VigieClient::~VigieClient() = default;

absl::StatusOr<std::unique_ptr<VigieClient>> VigieClient::Connect(
    const std::string& address, absl::Duration connect_timeout) {
  ConnectOptions options;
  options.timeout = connect_timeout;
  return Connect(address, options);
}

absl::StatusOr<std::unique_ptr<VigieClient>> VigieClient::Connect(
    const std::string& address, const ConnectOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->token = options.token;
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  if (!options.tls_ca_file.empty()) {
    grpc::SslCredentialsOptions tls;
    auto read = [](const std::string& path, std::string* out) -> absl::Status {
      std::ifstream in(path, std::ios::binary);
      out->assign(std::istreambuf_iterator<char>(in), {});
      if (out->empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot read \"", path, "\" (or it is empty)"));
      }
      return absl::OkStatus();
    };
    if (absl::Status s = read(options.tls_ca_file, &tls.pem_root_certs);
        !s.ok()) {
      return s;
    }
    if (!options.tls_cert_file.empty()) {
      if (absl::Status s = read(options.tls_cert_file, &tls.pem_cert_chain);
          !s.ok()) {
        return s;
      }
      if (absl::Status s = read(options.tls_key_file, &tls.pem_private_key);
          !s.ok()) {
        return s;
      }
    }
    credentials = grpc::SslCredentials(tls);
    if (!options.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(options.tls_server_name);
    }
  }
  impl->channel = grpc::CreateCustomChannel(address, credentials, args);
  if (!impl->channel->WaitForConnected(
          absl::ToChronoTime(absl::Now() + options.timeout))) {
    return absl::UnavailableError(absl::StrCat(
        "could not connect to ", address, " within ",
        absl::FormatDuration(options.timeout),
        options.tls_ca_file.empty()
            ? " (over plaintext: is the server on TLS? give --tls_ca)"
            : " over TLS"));
  }
  impl->stub = v1::Vigie::NewStub(impl->channel);
  return std::unique_ptr<VigieClient>(new VigieClient(std::move(impl)));
}

absl::StatusOr<StreamResult> VigieClient::StreamEvents(
    EventSource& source, const StreamOptions& options) {
  if (options.batch_size < 1 || options.batch_size > 100'000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch_size must be in [1, 100000], got ", options.batch_size));
  }
  StreamResult result;
  grpc::ClientContext context;
  SetTimeout(options.timeout, &context);
  impl_->Authorize(&context);
  const absl::Time start = absl::Now();
  std::unique_ptr<grpc::ClientWriter<v1::IngestRequest>> writer =
      impl_->stub->Ingest(&context, &result.reply);

  auto progress = [&] {
    if (!options.on_progress) return;
    options.on_progress({source.records_read(), source.total_records(),
                         result.events_sent, absl::Now() - start});
  };
  v1::IngestRequest request;
  bool broken = false;
  auto flush = [&] {
    if (request.events_size() == 0) return;
    if (!writer->Write(request)) {
      broken = true;
      return;
    }
    result.events_sent += static_cast<uint64_t>(request.events_size());
    request.clear_events();
    progress();
  };

  EventRecord record;
  while (!broken && source.Next(&record)) {
    if (record.error) {
      result.malformed.push_back({record.line, v1::REJECT_REASON_MALFORMED,
                                  *record.error, record.prediction_id});
      continue;
    }
    for (v1::Event& event : record.events) {
      result.event_lines.push_back(record.line);
      *request.add_events() = std::move(event);
      if (request.events_size() >= options.batch_size) flush();
      if (broken) break;
    }
  }
  if (!broken) flush();
  result.records_read = source.records_read();
  // After a failed Write, Finish() gives the reason; WritesDone() would only
  // fail too.
  if (!broken) writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (!status.ok() || broken) {
    absl::Status error = status.ok()
                             ? absl::UnavailableError("the stream broke")
                             : FromGrpc(status);
    return absl::Status(
        error.code(),
        absl::StrCat("Ingest stream failed after ", result.events_sent,
                     " events sent (", result.records_read,
                     " records read): ", error.message()));
  }
  progress();
  return result;
}

absl::StatusOr<v1::GetMetricsReply> VigieClient::GetMetrics(
    const v1::GetMetricsRequest& request, absl::Duration timeout) {
  return Unary<v1::GetMetricsRequest, v1::GetMetricsReply>(
      [&](auto* context, const auto& r, auto* reply) {
        impl_->Authorize(context);
        return impl_->stub->GetMetrics(context, r, reply);
      },
      request, timeout);
}

absl::StatusOr<v1::ReferenceInfo> VigieClient::UploadReference(
    const v1::UploadReferenceRequest& request, absl::Duration timeout) {
  return Unary<v1::UploadReferenceRequest, v1::ReferenceInfo>(
      [&](auto* context, const auto& r, auto* reply) {
        impl_->Authorize(context);
        return impl_->stub->UploadReference(context, r, reply);
      },
      request, timeout);
}

absl::StatusOr<v1::ReferenceInfo> VigieClient::GetReference(
    const v1::GetReferenceRequest& request, absl::Duration timeout) {
  return Unary<v1::GetReferenceRequest, v1::ReferenceInfo>(
      [&](auto* context, const auto& r, auto* reply) {
        impl_->Authorize(context);
        return impl_->stub->GetReference(context, r, reply);
      },
      request, timeout);
}

absl::StatusOr<v1::CatalogueInfo> VigieClient::PutCatalogue(
    const v1::PutCatalogueRequest& request, absl::Duration timeout) {
  return Unary<v1::PutCatalogueRequest, v1::CatalogueInfo>(
      [&](auto* context, const auto& r, auto* reply) {
        impl_->Authorize(context);
        return impl_->stub->PutCatalogue(context, r, reply);
      },
      request, timeout);
}

absl::StatusOr<v1::PurgeModelReply> VigieClient::PurgeModel(
    const v1::PurgeModelRequest& request, absl::Duration timeout) {
  return Unary<v1::PurgeModelRequest, v1::PurgeModelReply>(
      [&](auto* context, const auto& r, auto* reply) {
        impl_->Authorize(context);
        return impl_->stub->PurgeModel(context, r, reply);
      },
      request, timeout);
}

absl::StatusOr<v1::CatalogueInfo> VigieClient::GetCatalogue(
    const v1::GetCatalogueRequest& request, absl::Duration timeout) {
  return Unary<v1::GetCatalogueRequest, v1::CatalogueInfo>(
      [&](auto* context, const auto& r, auto* reply) {
        impl_->Authorize(context);
        return impl_->stub->GetCatalogue(context, r, reply);
      },
      request, timeout);
}

absl::StatusOr<v1::ListAlertsReply> VigieClient::ListAlerts(
    const v1::ListAlertsRequest& request, absl::Duration timeout) {
  return Unary<v1::ListAlertsRequest, v1::ListAlertsReply>(
      [&](auto* context, const auto& r, auto* reply) {
        impl_->Authorize(context);
        return impl_->stub->ListAlerts(context, r, reply);
      },
      request, timeout);
}

absl::StatusOr<v1::ListAlertHistoryReply> VigieClient::ListAlertHistory(
    const v1::ListAlertHistoryRequest& request, absl::Duration timeout) {
  return Unary<v1::ListAlertHistoryRequest, v1::ListAlertHistoryReply>(
      [&](auto* context, const auto& r, auto* reply) {
        impl_->Authorize(context);
        return impl_->stub->ListAlertHistory(context, r, reply);
      },
      request, timeout);
}

absl::StatusOr<v1::Silence> VigieClient::CreateSilence(
    const v1::CreateSilenceRequest& request, absl::Duration timeout) {
  return Unary<v1::CreateSilenceRequest, v1::Silence>(
      [&](auto* context, const auto& r, auto* reply) {
        impl_->Authorize(context);
        return impl_->stub->CreateSilence(context, r, reply);
      },
      request, timeout);
}

absl::StatusOr<v1::ListSilencesReply> VigieClient::ListSilences(
    const v1::ListSilencesRequest& request, absl::Duration timeout) {
  return Unary<v1::ListSilencesRequest, v1::ListSilencesReply>(
      [&](auto* context, const auto& r, auto* reply) {
        impl_->Authorize(context);
        return impl_->stub->ListSilences(context, r, reply);
      },
      request, timeout);
}

absl::StatusOr<v1::Silence> VigieClient::ExpireSilence(
    const v1::ExpireSilenceRequest& request, absl::Duration timeout) {
  return Unary<v1::ExpireSilenceRequest, v1::Silence>(
      [&](auto* context, const auto& r, auto* reply) {
        impl_->Authorize(context);
        return impl_->stub->ExpireSilence(context, r, reply);
      },
      request, timeout);
}

absl::StatusOr<v1::Alert> VigieClient::AcknowledgeAlert(
    const v1::AcknowledgeAlertRequest& request, absl::Duration timeout) {
  return Unary<v1::AcknowledgeAlertRequest, v1::Alert>(
      [&](auto* context, const auto& r, auto* reply) {
        impl_->Authorize(context);
        return impl_->stub->AcknowledgeAlert(context, r, reply);
      },
      request, timeout);
}

struct AlertStream::Impl {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::AlertUpdate>> reader;
  bool ended = false;
  std::optional<absl::Status> finished;
};

AlertStream::AlertStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AlertStream::~AlertStream() {
  if (impl_->finished.has_value()) return;
  // gRPC requires Finish on a reader; cancelled first so it returns now.
  Cancel();
  v1::AlertUpdate ignored;
  while (Next(&ignored)) {
  }
  Finish().IgnoreError();  // Cancelled, as asked.
}

bool AlertStream::Next(v1::AlertUpdate* update) {
  if (impl_->ended) return false;
  if (impl_->reader->Read(update)) return true;
  impl_->ended = true;
  return false;
}

void AlertStream::Cancel() { impl_->context.TryCancel(); }

absl::Status AlertStream::Finish() {
  if (!impl_->finished.has_value()) {
    impl_->finished = FromGrpc(impl_->reader->Finish());
  }
  return *impl_->finished;
}

std::unique_ptr<AlertStream> VigieClient::WatchAlerts(
    const v1::WatchAlertsRequest& request) {
  auto impl = std::make_unique<AlertStream::Impl>();
  impl->reader = impl_->stub->WatchAlerts(&impl->context, request);
  return std::unique_ptr<AlertStream>(new AlertStream(std::move(impl)));
}

std::vector<LocatedRejection> StreamResult::AllRejections() const {
  std::vector<LocatedRejection> all = malformed;
  for (const v1::Rejection& r : reply.rejections()) {
    const int64_t line = r.index() < event_lines.size()
                             ? event_lines[r.index()]
                             : -1;  // A server bug; shown, not hidden.
    all.push_back({line, r.reason(), r.message(), r.prediction_id()});
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const LocatedRejection& a, const LocatedRejection& b) {
                     return a.line < b.line;
                   });
  return all;
}

}  // namespace vigie::tools
