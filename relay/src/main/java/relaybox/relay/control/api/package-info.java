/**
 * The control socket's API, shared by the daemon and the admin CLI: the typed requests
 * ({@link relaybox.relay.control.api.ControlRequest}), the reply and its error codes, the JSON
 * they travel as ({@link relaybox.relay.control.api.ControlWire}) and the socket client.
 *
 * <p>This package depends on the JDK and Jackson's streaming parser and tree classes only, never
 * on the rest of relaybox: {@code relaybox queue ...}, {@code status} and {@code upstream test}
 * load it and the socket client, not the daemon (no James, MapDB, Netty, config reader or
 * ObjectMapper). {@code CliClassLoadingTest} in admin-cli checks this in a fresh JVM.
 */
package relaybox.relay.control.api;
