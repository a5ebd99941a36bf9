// sdbus-c++ turns only sdbus::Error thrown by a handler into an error reply;
// anything else would escape into sd-bus's C code. Every handler therefore
// runs its body through translate(): anchord::Error becomes the D-Bus error
// of its code, anything else io.github.anchord1.Error.Internal.
#pragma once

#include <sdbus-c++/Error.h>

#include <exception>
#include <utility>

namespace anchord::service {

// The bus error for the exception in flight (`error` from std::current_exception()).
sdbus::Error to_bus_error(std::exception_ptr error);

template <typename F>
decltype(auto) translate(F&& body) {
    try {
        return std::forward<F>(body)();
    } catch (...) {
        throw to_bus_error(std::current_exception());
    }
}

}  // namespace anchord::service
