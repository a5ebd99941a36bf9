// How an enrollment walks a bundle: each position is judged (decoded, given
// its verdict) and then acted on (linked into the kernel keyring), in
// order. The links are most of a batch's time and cannot overlap one
// another (the kernel checks a link's signature under the keyring's lock),
// so in a large batch the judging runs ahead on a thread of its own and
// hands positions over in parts: the first small, so that linking starts
// early, each next one twice as large up to a bound, since closing a part
// (saving its write-ahead intents) costs a journal line and an fdatasync
// whatever it holds.
#pragma once

#include <cstddef>
#include <functional>

namespace anchord::manager {

struct BatchSteps {
    // Judges position i, on the judging thread; false stops the batch at i
    // (the call fails: nothing after the last closed part is acted on).
    std::function<bool(std::size_t i)> judge;
    // Closes the part [begin, end), on the judging thread, before any of its
    // positions is acted on.
    std::function<void(std::size_t begin, std::size_t end)> close_part;
    // Acts on position i, on the calling thread, in order.
    std::function<void(std::size_t i)> act;
};

struct BatchParts {
    std::size_t first = 8;
    std::size_t largest = 32;
};

// Runs `steps` over positions [0, count). With `streaming`, the judging
// runs on a thread of its own in parts and the acting follows part by part;
// without, every position is judged and closed as one part before the first
// is acted on (a refusal then costs no kernel work). Returns false when
// judge stopped the batch. What a step throws is rethrown here, and only
// once the judging has ended: after an act threw, the judging stops before
// its next position, so the caller may undo what was done.
bool run_batch(std::size_t count, bool streaming, const BatchSteps& steps, BatchParts parts = {});

}  // namespace anchord::manager
