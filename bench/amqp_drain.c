/* The AMQP ceiling of bench/amqp_ingest_bench.py: drain COUNT messages from a queue,
 * acknowledging like the ingester (manual acks, one "multiple" ack per BATCH messages,
 * at most PREFETCH unacknowledged), and print "messages bytes". Nothing is parsed or
 * stored.
 *
 *   cc -O2 bench/amqp_drain.c -lrabbitmq -o amqp_drain   (Debian: librabbitmq-dev)
 *   ./amqp_drain HOST PORT QUEUE COUNT BATCH PREFETCH
 */
#include <stdio.h>
#include <stdlib.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

static void check(amqp_rpc_reply_t r, const char *what) {
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        fprintf(stderr, "amqp_drain: %s failed (reply type %d)\n", what, r.reply_type);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s HOST PORT QUEUE COUNT BATCH PREFETCH\n", argv[0]);
        return 2;
    }
    long count = atol(argv[4]), batch = atol(argv[5]), prefetch = atol(argv[6]);
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(conn);
    if (!sock || amqp_socket_open(sock, argv[1], atoi(argv[2]))) {
        fprintf(stderr, "amqp_drain: cannot connect to %s:%s\n", argv[1], argv[2]);
        return 1;
    }
    check(amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"),
          "login");
    amqp_channel_open(conn, 1);
    check(amqp_get_rpc_reply(conn), "channel.open");
    amqp_basic_qos(conn, 1, 0, (uint16_t)(prefetch > 65535 ? 65535 : prefetch), 0);
    check(amqp_get_rpc_reply(conn), "basic.qos");
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(argv[3]), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    check(amqp_get_rpc_reply(conn), "basic.consume");

    long n = 0, bytes = 0;
    while (n < count) {
        amqp_envelope_t env;
        amqp_maybe_release_buffers(conn);
        check(amqp_consume_message(conn, &env, NULL, 0), "consume");
        n++;
        bytes += (long)env.message.body.len;
        if (n % batch == 0 || n == count)
            amqp_basic_ack(conn, 1, env.delivery_tag, 1);
        amqp_destroy_envelope(&env);
    }
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    printf("%ld %ld\n", n, bytes);
    return 0;
}
