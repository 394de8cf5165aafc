// The only code in vae-dist that includes <mpi.h>.
//
// Open MPI defines its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE, ...) as macros that
// expand to addresses of internal globals; Swift's importer cannot see through them. These accessors
// give each one a name Swift can call. Everything else (MPI_Init_thread, MPI_Allreduce, ...) is an
// ordinary function and imports as is.
#ifndef VAE_DIST_MPI_SHIM_H
#define VAE_DIST_MPI_SHIM_H

#include <mpi.h>

static inline MPI_Comm shim_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype shim_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype shim_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype shim_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype shim_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype shim_int32(void) { return MPI_INT32_T; }
static inline MPI_Op shim_op_sum(void) { return MPI_SUM; }
static inline MPI_Op shim_op_max(void) { return MPI_MAX; }
static inline MPI_Op shim_op_min(void) { return MPI_MIN; }
static inline void *shim_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler shim_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int shim_success(void) { return MPI_SUCCESS; }
static inline int shim_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline int shim_max_processor_name(void) { return MPI_MAX_PROCESSOR_NAME; }
static inline int shim_max_library_version_string(void) { return MPI_MAX_LIBRARY_VERSION_STRING; }
static inline int shim_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline MPI_Request shim_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *shim_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
static inline int shim_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline MPI_Info shim_info_null(void) { return MPI_INFO_NULL; }
static inline int shim_mode_nocheck(void) { return MPI_MODE_NOCHECK; }
static inline MPI_Status *shim_status_ignore(void) { return MPI_STATUS_IGNORE; }

#endif
