#include "services/grpc_service.h"

#include <string>
#include <utility>

namespace vigie::services {
namespace {

// Reads the stream one request at a time and applies each before asking
// for the next, so that the client's flow control paces it and a request
// already read is durable even if the stream breaks later.
class IngestReactor final
    : public grpc::ServerReadReactor<vigie::v1::IngestRequest> {
 public:
  IngestReactor(Pipeline* pipeline, vigie::v1::IngestReply* reply)
      : pipeline_(pipeline), reply_(reply) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // The client closed its side: the stream is complete.
      Finish(grpc::Status::OK);
      return;
    }
    const auto events = static_cast<uint64_t>(request_.events_size());
    absl::StatusOr<vigie::v1::IngestReply> part =
        pipeline_->Ingest(request_, offset_);
    if (!part.ok()) {
      Finish(ToGrpcStatus(part.status()));
      return;
    }
    AccumulateReply(*part, reply_);
    offset_ += events;
    request_.Clear();
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  Pipeline* const pipeline_;
  vigie::v1::IngestReply* const reply_;
  vigie::v1::IngestRequest request_;
  uint64_t offset_ = 0;  // Stream index of request_'s first event.
};

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

void AccumulateReply(const vigie::v1::IngestReply& part,
                     vigie::v1::IngestReply* total) {
  total->set_accepted(total->accepted() + part.accepted());
  total->set_rejected(total->rejected() + part.rejected());
  total->set_predictions(total->predictions() + part.predictions());
  total->set_outcomes(total->outcomes() + part.outcomes());
  total->set_joined(total->joined() + part.joined());
  for (const vigie::v1::Rejection& rejection : part.rejections()) {
    if (total->rejections_size() >= VigieService::kMaxListedRejections) break;
    *total->add_rejections() = rejection;
  }
}

grpc::ServerReadReactor<vigie::v1::IngestRequest>* VigieService::Ingest(
    grpc::CallbackServerContext* /*context*/, vigie::v1::IngestReply* reply) {
  return new IngestReactor(pipeline_, reply);
}

grpc::ServerUnaryReactor* VigieService::IngestBatch(
    grpc::CallbackServerContext* context,
    const vigie::v1::IngestRequest* request, vigie::v1::IngestReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The pipeline normalises events in place; the request is const.
  vigie::v1::IngestRequest events = *request;
  absl::StatusOr<vigie::v1::IngestReply> result =
      pipeline_->Ingest(events, /*index_offset=*/0);
  if (result.ok()) AccumulateReply(*result, reply);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* VigieService::GetMetrics(
    grpc::CallbackServerContext* context,
    const vigie::v1::GetMetricsRequest* request,
    vigie::v1::GetMetricsReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<vigie::v1::GetMetricsReply> result =
      pipeline_->GetMetrics(*request);
  if (result.ok()) *reply = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* VigieService::ListAlerts(
    grpc::CallbackServerContext* context,
    const vigie::v1::ListAlertsRequest* request,
    vigie::v1::ListAlertsReply* reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  *reply = pipeline_->ListAlerts(*request);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace vigie::services
