package com.igexin.sdk;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * Stand-in for the Getui push SDK: push SDKs keep their own long TCP connection to their servers, around
 * any HTTP proxy, so what they send is invisible to traffic capture; only the connect is on record.
 * The address is left unresolved on purpose (no DNS lookup, nothing leaves the machine): connect fails
 * at once with UnknownHostException, as it would on a phone without network, after being recorded.
 */
public final class PushManager {
    private static final PushManager INSTANCE = new PushManager();

    public static PushManager getInstance() {
        return INSTANCE;
    }

    public void initialize(Object context) {
        try (Socket socket = new Socket()) {
            socket.connect(InetSocketAddress.createUnresolved("sdk.open.phone.igexin.invalid", 5224), 3000);
        } catch (IOException expected) {
            System.out.println("[demo] push connection not opened: " + expected.getClass().getSimpleName());
        }
    }
}
