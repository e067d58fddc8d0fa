#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "services/acknowledgements.h"
#include "services/alert_router.h"
#include "services/ingest_worker.h"
#include "services/pipeline.h"
#include "services/silences.h"
#include "vigie/v1/vigie.grpc.pb.h"

namespace vigie::services {

// Abseil's status codes map one to one onto gRPC's.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The vigie.v1.Vigie gRPC service over a Pipeline, on gRPC's callback API.
// Ingest calls are applied on an IngestWorker, in the order each stream
// sent them, after a receiving thread of the stream's parsed, validated and
// logged them; queries read the pipeline directly. Thread-safe. `pipeline`
// must outlive the service; destroy the service only once gRPC has shut
// down.
//
// Ingest takes its requests as bytes (a raw method) and parses them
// itself, so that the ingest log is written from the bytes each event
// came in (event_bytes.h) rather than from every event serialized again.
class VigieService final
    : public vigie::v1::Vigie::WithRawCallbackMethod_Ingest<
          vigie::v1::Vigie::CallbackService> {
 public:
  // Rejections listed in one Ingest reply; past this only counted, so that
  // a stream of bad events cannot grow a reply without bound.
  static constexpr int kMaxListedRejections = 10'000;

  // What the alert calls (WatchAlerts, silences, acknowledgements) work
  // on; each must outlive the service. Without them those calls are
  // UNIMPLEMENTED.
  struct AlertParts {
    AlertRouter* router = nullptr;
    Silences* silences = nullptr;
    Acknowledgements* acknowledgements = nullptr;
    const common::Clock* clock = nullptr;
  };

  explicit VigieService(Pipeline* pipeline) : VigieService(pipeline, {}) {}
  // The calls that change state (Ingest, IngestBatch, UploadReference,
  // PutCatalogue, PurgeModel, CreateSilence, ExpireSilence,
  // AcknowledgeAlert) then
  // need the metadata "authorization: Bearer <token>" (UNAUTHENTICATED
  // otherwise). Call before serving. Empty: no check.
  void RequireBearerToken(std::string token) { token_ = std::move(token); }
  VigieService(Pipeline* pipeline, AlertParts alerts);

  grpc::ServerReadReactor<grpc::ByteBuffer>* Ingest(
      grpc::CallbackServerContext* context, grpc::ByteBuffer* reply) override;
  grpc::ServerUnaryReactor* IngestBatch(grpc::CallbackServerContext* context,
                                        const vigie::v1::IngestRequest* request,
                                        vigie::v1::IngestReply* reply) override;
  grpc::ServerUnaryReactor* GetMetrics(
      grpc::CallbackServerContext* context,
      const vigie::v1::GetMetricsRequest* request,
      vigie::v1::GetMetricsReply* reply) override;
  grpc::ServerUnaryReactor* UploadReference(
      grpc::CallbackServerContext* context,
      const vigie::v1::UploadReferenceRequest* request,
      vigie::v1::ReferenceInfo* reply) override;
  grpc::ServerUnaryReactor* GetReference(
      grpc::CallbackServerContext* context,
      const vigie::v1::GetReferenceRequest* request,
      vigie::v1::ReferenceInfo* reply) override;
  grpc::ServerUnaryReactor* PutCatalogue(
      grpc::CallbackServerContext* context,
      const vigie::v1::PutCatalogueRequest* request,
      vigie::v1::CatalogueInfo* reply) override;
  grpc::ServerUnaryReactor* GetCatalogue(
      grpc::CallbackServerContext* context,
      const vigie::v1::GetCatalogueRequest* request,
      vigie::v1::CatalogueInfo* reply) override;
  grpc::ServerUnaryReactor* PurgeModel(
      grpc::CallbackServerContext* context,
      const vigie::v1::PurgeModelRequest* request,
      vigie::v1::PurgeModelReply* reply) override;
  grpc::ServerUnaryReactor* ListAlertHistory(
      grpc::CallbackServerContext* context,
      const vigie::v1::ListAlertHistoryRequest* request,
      vigie::v1::ListAlertHistoryReply* reply) override;
  grpc::ServerUnaryReactor* ListAlerts(
      grpc::CallbackServerContext* context,
      const vigie::v1::ListAlertsRequest* request,
      vigie::v1::ListAlertsReply* reply) override;

  // In grpc_alerts.cc.
  grpc::ServerWriteReactor<vigie::v1::AlertUpdate>* WatchAlerts(
      grpc::CallbackServerContext* context,
      const vigie::v1::WatchAlertsRequest* request) override;
  grpc::ServerUnaryReactor* CreateSilence(
      grpc::CallbackServerContext* context,
      const vigie::v1::CreateSilenceRequest* request,
      vigie::v1::Silence* reply) override;
  grpc::ServerUnaryReactor* ListSilences(
      grpc::CallbackServerContext* context,
      const vigie::v1::ListSilencesRequest* request,
      vigie::v1::ListSilencesReply* reply) override;
  grpc::ServerUnaryReactor* ExpireSilence(
      grpc::CallbackServerContext* context,
      const vigie::v1::ExpireSilenceRequest* request,
      vigie::v1::Silence* reply) override;
  grpc::ServerUnaryReactor* AcknowledgeAlert(
      grpc::CallbackServerContext* context,
      const vigie::v1::AcknowledgeAlertRequest* request,
      vigie::v1::Alert* reply) override;

 private:
  bool HasAlertParts() const;
  // OK when no token is required or `context` carries it.
  grpc::Status Authorize(const grpc::CallbackServerContext& context) const;

  std::string token_;
  Pipeline* const pipeline_;
  const AlertParts alerts_;
  IngestWorker worker_;
  // Where Ingest streams' requests are parsed, validated and logged, one
  // thread per core, each stream on one of them (in turn) so that its
  // requests are logged in order.
  std::vector<std::unique_ptr<IngestWorker>> receivers_;
  std::atomic<size_t> next_receiver_{0};
};

// Adds `part` (the reply to one request of a stream) into `total`, listing
// at most VigieService::kMaxListedRejections rejections.
void AccumulateReply(const vigie::v1::IngestReply& part,
                     vigie::v1::IngestReply* total);

}  // namespace vigie::services
