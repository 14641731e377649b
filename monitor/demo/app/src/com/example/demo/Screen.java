package com.example.demo;

import android.app.Dialog;
import android.text.SpannableString;
import android.text.style.URLSpan;
import android.view.View;
import android.webkit.WebView;
import android.widget.Button;
import android.widget.TextView;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** What the demo shows: the privacy dialog first, then the main screen; the launcher while in the background. */
final class Screen {
    static final int WIDTH = 1080;
    static final int HEIGHT = 2340;
    private final MainActivity activity;
    private final Dialog privacy;
    final Button agree = new Button("同意");
    final Button refuse = new Button("不同意");
    static final String POLICY_URL = "https://demo-app.example.com/privacy.html";
    static final String TERMS_URL = "https://demo-app.example.com/terms.html";
    private final TextView title = new TextView("用户协议与隐私政策");
    // The dialog's message links 《用户协议》 and 《隐私政策》 (URLSpans, as Html.fromHtml or setSpan make them).
    private final TextView message = new TextView(notice());
    // The dialog embeds the policy page, as many apps' consent dialogs do.
    private final WebView policyPage = new WebView();
    private final CountDownLatch decided = new CountDownLatch(1);
    private final CountDownLatch quit = new CountDownLatch(1);
    private volatile Boolean agreed = null;
    private volatile boolean background = false;

    /** `onAgree` runs inside the 同意 button's click listener, as apps start their SDKs there. */
    Screen(MainActivity activity, Dialog privacy, final Runnable onAgree) {
        this.activity = activity;
        this.privacy = privacy;
        policyPage.loadUrl(POLICY_URL);
        agree.setOnClickListener(new View.OnClickListener() {
            public void onClick(View view) { decide(true); onAgree.run(); }
        });
        refuse.setOnClickListener(new View.OnClickListener() {
            public void onClick(View view) { decide(false); }
        });
    }

    private static CharSequence notice() {
        String text = "欢迎使用！我们将依据《用户协议》和《隐私政策》收集、使用您的个人信息，第三方SDK的收集情况见《隐私政策》中的第三方SDK清单。请您阅读并同意后开始使用。";
        SpannableString styled = new SpannableString(text);
        int terms = text.indexOf("《用户协议》");
        int policy = text.indexOf("《隐私政策》");
        styled.setSpan(new URLSpan(TERMS_URL), terms, terms + 6, 33);
        styled.setSpan(new URLSpan(POLICY_URL), policy, policy + 6, 33);
        return styled;
    }

    private void decide(boolean yes) {
        agreed = yes;
        privacy.dismiss();
        decided.countDown();
    }

    Boolean awaitDecision(long timeoutMs) throws InterruptedException {
        decided.await(timeoutMs, TimeUnit.MILLISECONDS);
        return agreed;
    }

    boolean awaitQuit(long timeoutMs) throws InterruptedException {
        return quit.await(timeoutMs, TimeUnit.MILLISECONDS);
    }

    boolean inBackground() { return background; }

    synchronized void home() {
        if (!background) { background = true; activity.performPause(); }
    }

    synchronized void resume() {
        if (background) { background = false; activity.performResume(); }
    }

    void quit() { quit.countDown(); decided.countDown(); }

    // Bounds as a phone of WIDTH x HEIGHT would report them.
    private static final int[] REFUSE = {100, 1535, 520, 1675};
    private static final int[] AGREE = {560, 1535, 980, 1675};

    boolean tap(int x, int y) {
        if (background || !privacy.isShowing()) return false;
        if (inside(AGREE, x, y)) return agree.performClick();
        if (inside(REFUSE, x, y)) return refuse.performClick();
        return false;
    }

    private static boolean inside(int[] b, int x, int y) { return x >= b[0] && x < b[2] && y >= b[1] && y < b[3]; }

    String dump() {
        StringBuilder xml = new StringBuilder("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><hierarchy rotation=\"0\">");
        if (background) {
            xml.append(node("android.widget.FrameLayout", "com.android.launcher3", "", "", new int[] {0, 0, WIDTH, HEIGHT}, false, true));
        } else {
            xml.append(node("android.widget.FrameLayout", DemoApp.PACKAGE, "", "", new int[] {0, 0, WIDTH, HEIGHT}, false, false));
            xml.append(node("android.widget.TextView", DemoApp.PACKAGE, "首页", "com.example.demo:id/home_title", new int[] {0, 120, WIDTH, 260}, false, true));
            if (privacy.isShowing()) {
                xml.append(node("android.widget.LinearLayout", DemoApp.PACKAGE, "", "com.example.demo:id/privacy_dialog", new int[] {60, 585, 1020, 1755}, false, false));
                xml.append(node("android.widget.TextView", DemoApp.PACKAGE, title.getText().toString(), "com.example.demo:id/title", new int[] {100, 625, 980, 725}, false, true));
                xml.append(node("android.widget.TextView", DemoApp.PACKAGE, message.getText().toString(), "com.example.demo:id/message", new int[] {100, 745, 980, 1495}, false, true));
                xml.append(node("android.widget.Button", DemoApp.PACKAGE, refuse.getText().toString(), "com.example.demo:id/btn_refuse", REFUSE, true, true));
                xml.append(node("android.widget.Button", DemoApp.PACKAGE, agree.getText().toString(), "com.example.demo:id/btn_agree", AGREE, true, true));
                xml.append("</node>");
            }
            xml.append("</node>");
        }
        return xml.append("</hierarchy>").toString();
    }

    private static String node(String cls, String pkg, String text, String id, int[] b, boolean clickable, boolean close) {
        return "<node index=\"0\" text=\"" + text + "\" resource-id=\"" + id + "\" class=\"" + cls + "\" package=\"" + pkg
            + "\" content-desc=\"\" clickable=\"" + clickable + "\" enabled=\"true\" bounds=\"[" + b[0] + "," + b[1] + "]["
            + b[2] + "," + b[3] + "]\"" + (close ? " />" : ">");
    }
}
