/* MPI_IN_PLACE as a symbol Rust can read: the MPI backend's all-reduce then works on the
   caller's buffer instead of a second one (rsmpi does not expose the constant). */
#include <mpi.h>

void *const tessera_mpi_in_place = MPI_IN_PLACE;
