// `bt86 explain`: a translated block listed guest instruction by guest
// instruction, each beside the host code emitted for it, with its kind
// (ident, rewritten, callout) and the block's exits. Golden tests compare
// this listing.
#pragma once

#include <string>

#include "translator/block.h"
#include "translator/decoder.h"
#include "translator/host_stubs.h"
#include "translator/translator.h"

namespace bt86 {

/// The listing of `block`; guest bytes are read again through `reader`.
/// Jumps to the fixed stubs are shown by name.
std::string FormatBlockListing(const Block& block, const Decoder& decoder, const HostStubs& stubs,
                               GuestCodeReader& reader);

}  // namespace bt86
