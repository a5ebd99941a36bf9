#include "service/bus_errors.hpp"

#include <string>

#include "anchord/error.hpp"
#include "journal/journal.hpp"

namespace anchord::service {

sdbus::Error to_bus_error(std::exception_ptr error) {
    try {
        std::rethrow_exception(error);
    } catch (const sdbus::Error& e) {
        return e;
    } catch (const Error& e) {
        return sdbus::Error(dbus_error_name(e.code()), e.what());
    } catch (const std::exception& e) {
        journal::log(LOG_ERR, std::string("internal error: ") + e.what());
        return sdbus::Error(dbus_error_name(ErrorCode::Internal),
                            std::string("internal error: ") + e.what());
    } catch (...) {
        journal::log(LOG_ERR, "internal error: unknown exception");
        return sdbus::Error(dbus_error_name(ErrorCode::Internal), "internal error");
    }
}

}  // namespace anchord::service
