package relaybox.admin;

import java.io.IOException;
import java.net.Proxy;
import java.net.Socket;

/**
 * The socket sendmail connects to the daemon's intake with, made on a thread of its own while the
 * main thread parses the options, reads the configuration and the message's header section.
 * Owns only that hand-over: who connects, and how, is {@link SmtpSubmission}'s and
 * {@link SmtpOnStdio}'s.
 *
 * <p>Why a thread: the JDK's socket code costs 10-15 ms at its first use in a JVM, more than all of
 * our own code before the first connection (about 6 ms). {@code java.net.Socket} sets up var
 * handles, {@code SocketImpl} and {@code NioSocketImpl} link lambdas (the first lambda of the JVM
 * starts the {@code java.lang.invoke} machinery and spins a lambda-form class that no class-data
 * archive of JDK 17 holds), and the first socket loads libnet, libnio and libextnet and probes
 * the socket options. On a second core that runs beside our code instead of after it. The socket
 * is created but not connected: nothing reaches the daemon before the message is ready, so a
 * slow writer on stdin never holds an idle session open, and the daemon sees nothing of a call
 * that ends in a usage error.
 *
 * <p>A plain {@link Runnable} class, not a lambda: linking one would cost the very milliseconds
 * this saves (CliClassLoadingTest).
 */
final class PreparedSocket implements Runnable {

    private final Thread thread;
    /** Set by the thread; read after {@link Thread#join}, which orders it. */
    private Socket socket;
    private boolean taken;

    private PreparedSocket() {
        thread = new Thread(this, "sendmail-socket");
        thread.setDaemon(true);
    }

    /** Starts making the socket. */
    static PreparedSocket start() {
        PreparedSocket p = new PreparedSocket();
        p.thread.start();
        return p;
    }

    @Override
    public void run() {
        Socket s = new Socket(Proxy.NO_PROXY); // the daemon is local: no proxy selector to set up
        try {
            // Any option creates the socket (its file descriptor) and with it the JDK's socket
            // classes; no delay for small writes suits a dialogue of a few short lines.
            s.setTcpNoDelay(true);
            socket = s;
        } catch (IOException | RuntimeException e) {
            closeQuietly(s); // take() makes one on the main thread, which reports its failure
        }
    }

    /** The socket, unconnected; made here if the thread could not. The caller closes it. */
    Socket take() {
        waitForThread();
        if (socket != null && !taken) {
            taken = true;
            return socket;
        }
        return new Socket(Proxy.NO_PROXY);
    }

    /** Closes the socket if nobody took it (a usage error, another mode). */
    void discard() {
        waitForThread();
        if (socket != null && !taken) {
            taken = true;
            closeQuietly(socket);
        }
    }

    private void waitForThread() {
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // Never connected: nothing to tell anyone.
        }
    }
}
