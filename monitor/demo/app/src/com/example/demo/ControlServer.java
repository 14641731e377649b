package com.example.demo;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * The demo's stand-in for adb input and uiautomator: one command per connection on 127.0.0.1.
 *   dump        → the current screen as uiautomator XML
 *   tap X Y     → taps the clickable view at that point ("ok" or "miss")
 *   home        → the app goes to the background (Activity.onPause)
 *   resume      → the app comes back to the foreground (Activity.onResume)
 *   back        → the back key (closes nothing on the privacy dialog, like many real apps)
 *   quit        → the app ends
 * Only loopback is bound: nothing outside this machine can drive the demo.
 */
final class ControlServer extends Thread {
    private final ServerSocket server;
    private final Screen screen;

    ControlServer(int port, Screen screen) throws Exception {
        super("demo-control");
        setDaemon(true);
        // 127.0.0.1 by address: Android's getLoopbackAddress() is ::1, where a scenario does not connect.
        this.server = new ServerSocket(port, 8, InetAddress.getByAddress(new byte[] {127, 0, 0, 1}));
        this.screen = screen;
    }

    public void run() {
        while (!server.isClosed()) {
            try (Socket client = server.accept()) {
                BufferedReader in = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8));
                String line = in.readLine();
                String reply = line == null ? "error empty command" : handle(line.trim());
                OutputStream out = client.getOutputStream();
                out.write(reply.getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (Exception error) {
                if (!server.isClosed()) System.out.println("[demo] control: " + error);
            }
        }
    }

    private String handle(String command) {
        String[] words = command.split("\\s+");
        switch (words[0]) {
            case "dump": return screen.dump();
            case "tap":
                if (words.length != 3) return "error tap needs X Y";
                return screen.tap(Integer.parseInt(words[1]), Integer.parseInt(words[2])) ? "ok" : "miss";
            case "home": screen.home(); return "ok";
            case "resume": screen.resume(); return "ok";
            case "back": return "ok";
            case "quit": screen.quit(); return "ok";
            default: return "error unknown command " + words[0];
        }
    }
}
