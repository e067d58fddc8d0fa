#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/event_source.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::tools {

// How far a stream has got; passed to StreamOptions::on_progress.
struct StreamProgress {
  uint64_t records_read = 0;   // Records taken from the source.
  uint64_t total_records = 0;  // The source's total_records(); 0 if unknown.
  uint64_t events_sent = 0;    // Events written to the stream.
  absl::Duration elapsed;      // Since the stream opened.
};

struct StreamOptions {
  // Events per IngestRequest. Default: 500. Range: [1, 100,000].
  int batch_size = 500;
  // Deadline of the whole stream. Default: none.
  absl::Duration timeout = absl::InfiniteDuration();
  // Called after each request is written, and once at the end. Optional.
  std::function<void(const StreamProgress&)> on_progress;
};

// A rejected event or input record, located in the input.
struct LocatedRejection {
  int64_t line = 0;  // EventRecord::line of the record.
  v1::RejectReason reason = v1::REJECT_REASON_UNSPECIFIED;
  std::string message;
  std::string prediction_id;
};

// What a completed stream did.
struct StreamResult {
  // The server's reply. Its rejection indices count the events sent.
  v1::IngestReply reply;
  uint64_t records_read = 0;
  uint64_t events_sent = 0;
  // Records the client could not parse (reason MALFORMED); never sent.
  std::vector<LocatedRejection> malformed;
  // event_lines[i]: the input line of the i-th event sent.
  std::vector<int64_t> event_lines;

  // The client's and the server's rejections together, by line (the
  // server's messages kept), ties in stream order.
  std::vector<LocatedRejection> AllRejections() const;
};

// A WatchAlerts stream, open until the server ends it or it is cancelled.
// Next and Finish belong to one thread; Cancel may be called from any.
class AlertStream {
 public:
  ~AlertStream();  // Cancels the stream if it is still open.
  // Waits for the next update; false once the stream has ended (Finish
  // then says how).
  bool Next(v1::AlertUpdate* update);
  // Ends the stream from this side: a Next waiting returns false.
  void Cancel();
  // After Next returned false: kCancelled after Cancel,
  // kResourceExhausted if the server cut this watcher off for falling
  // behind, kUnavailable if the server shut down.
  absl::Status Finish();

 private:
  friend class VigieClient;
  struct Impl;
  explicit AlertStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A connection to a Vigie server; a thin layer over the generated stub that
// returns absl::Status (gRPC codes map one to one). Thread-safe, as gRPC
// stubs are.
class VigieClient {
 public:
  // Opens an insecure channel to `address` ("host:port") and waits up to
  // `connect_timeout` for it to connect: kUnavailable if it does not.
  static absl::StatusOr<std::unique_ptr<VigieClient>> Connect(
      const std::string& address,
      absl::Duration connect_timeout = absl::Seconds(5));

  struct ConnectOptions {
    absl::Duration timeout = absl::Seconds(5);
    // Set: TLS, the server's certificate verified against this CA (PEM).
    std::string tls_ca_file;
    // Mutual TLS: this client's certificate chain and key (PEM).
    std::string tls_cert_file;
    std::string tls_key_file;
    // The name the server's certificate must carry, when not the address's
    // host.
    std::string tls_server_name;
    // Sent as "authorization: Bearer <token>" (the server's
    // auth.bearer_token_file); empty: none.
    std::string token;
  };
  // The same with TLS and a bearer token as `options` say; kInvalidArgument
  // for a certificate file that cannot be read.
  static absl::StatusOr<std::unique_ptr<VigieClient>> Connect(
      const std::string& address, const ConnectOptions& options);
  ~VigieClient();

  // Sends every event of `source` over one client-streaming Ingest call,
  // batch_size events per request, and returns the server's reply with the
  // client's own rejections. An error (kUnavailable, kDeadlineExceeded, ...)
  // means the stream broke: the server kept the requests it had read, and
  // the message says how many events were sent.
  absl::StatusOr<StreamResult> StreamEvents(EventSource& source,
                                            const StreamOptions& options);

  absl::StatusOr<v1::GetMetricsReply> GetMetrics(
      const v1::GetMetricsRequest& request,
      absl::Duration timeout = absl::Seconds(30));
  absl::StatusOr<v1::ListAlertsReply> ListAlerts(
      const v1::ListAlertsRequest& request,
      absl::Duration timeout = absl::Seconds(30));
  absl::StatusOr<v1::ListAlertHistoryReply> ListAlertHistory(
      const v1::ListAlertHistoryRequest& request,
      absl::Duration timeout = absl::Seconds(30));
  // Opens a WatchAlerts stream (no deadline: it lasts until cancelled).
  std::unique_ptr<AlertStream> WatchAlerts(
      const v1::WatchAlertsRequest& request);
  absl::StatusOr<v1::Silence> CreateSilence(
      const v1::CreateSilenceRequest& request,
      absl::Duration timeout = absl::Seconds(30));
  absl::StatusOr<v1::ListSilencesReply> ListSilences(
      const v1::ListSilencesRequest& request,
      absl::Duration timeout = absl::Seconds(30));
  absl::StatusOr<v1::Silence> ExpireSilence(
      const v1::ExpireSilenceRequest& request,
      absl::Duration timeout = absl::Seconds(30));
  absl::StatusOr<v1::Alert> AcknowledgeAlert(
      const v1::AcknowledgeAlertRequest& request,
      absl::Duration timeout = absl::Seconds(30));
  absl::StatusOr<v1::ReferenceInfo> UploadReference(
      const v1::UploadReferenceRequest& request,
      absl::Duration timeout = absl::Seconds(120));
  absl::StatusOr<v1::ReferenceInfo> GetReference(
      const v1::GetReferenceRequest& request,
      absl::Duration timeout = absl::Seconds(30));
  absl::StatusOr<v1::CatalogueInfo> PutCatalogue(
      const v1::PutCatalogueRequest& request,
      absl::Duration timeout = absl::Seconds(120));
  absl::StatusOr<v1::CatalogueInfo> GetCatalogue(
      const v1::GetCatalogueRequest& request,
      absl::Duration timeout = absl::Seconds(30));
  absl::StatusOr<v1::PurgeModelReply> PurgeModel(
      const v1::PurgeModelRequest& request,
      absl::Duration timeout = absl::Seconds(120));

 private:
  // Holds the channel and the stub, so that gRPC headers stay out of this
  // one (only services/ includes them).
  struct Impl;
  explicit VigieClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigie::tools
