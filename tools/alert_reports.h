#pragma once

#include <ostream>
#include <string>

#include "vigie/v1/vigie.pb.h"

// Text renderings of the alert operations: WatchAlerts updates, silences
// and the alert history.

namespace vigie::tools {

// One line per update, for `vigiectl watch`:
// "2026-01-05T10:00:00Z TRANSITION WARNING FIRING T1
// demographic_parity_difference
//  model demo attribute=sex value 0.21 [fingerprint] (silenced, acked by bob)";
// the SYNCED marker as "-- current alerts above, changes below --".
std::string FormatAlertUpdate(const v1::AlertUpdate& update);

// One block per silence: id, state, time range, matchers, author and
// comment. "no silences" when there are none.
void PrintSilencesText(const v1::ListSilencesReply& reply, std::ostream& out);

// One line per transition, oldest first, as FormatAlertUpdate's alert part;
// a note when older ones were left out.
void PrintHistoryText(const v1::ListAlertHistoryReply& reply,
                      std::ostream& out);

}  // namespace vigie::tools
