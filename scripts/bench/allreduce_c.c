/* The same measurement as `vae-dist bench allreduce`, in C, to show what the Swift wrapper costs.
 * Per size: 20 warm-up calls, then ITER times { barrier; t0 = MPI_Wtime(); in-place allreduce(SUM);
 * t = MPI_Wtime() - t0 } on a 2 MiB-aligned, MADV_HUGEPAGE buffer; rank 0 prints min/median/max.
 * Build: mpicc -O2 -o allreduce_c allreduce_c.c   Run: mpirun -np 2 ./allreduce_c 300 652832 2844928 */
#define _GNU_SOURCE
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int iterations = argc > 1 ? atoi(argv[1]) : 300;
    if (iterations < 1) iterations = 1;
    double *times = malloc(sizeof(double) * iterations);
    for (int a = 2; a < argc; a++) {
        long count = atol(argv[a]);
        size_t hp = 2u << 20, bytes = ((count * sizeof(float) + hp - 1) / hp) * hp;
        float *buffer = NULL;
        if (posix_memalign((void **)&buffer, hp, bytes) != 0) MPI_Abort(MPI_COMM_WORLD, 1);
        madvise(buffer, bytes, MADV_HUGEPAGE);
        memset(buffer, 0, bytes);
        for (int i = 0; i < 20; i++) MPI_Allreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        for (int i = 0; i < iterations; i++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            times[i] = MPI_Wtime() - t0;
        }
        if (rank == 0) {
            qsort(times, iterations, sizeof(double), compare);
            double mb = count * 4.0;
            printf("allreduce c     np=%d floats=%ld (%.1f MB) iters=%d min=%.3f ms median=%.3f ms max=%.3f ms algbw=%.2f GB/s\n",
                   size, count, mb / 1e6, iterations, times[0] * 1e3, times[iterations / 2] * 1e3,
                   times[iterations - 1] * 1e3, mb / times[iterations / 2] / 1e9);
            fflush(stdout);
        }
        free(buffer);
    }
    free(times);
    MPI_Finalize();
    return 0;
}
