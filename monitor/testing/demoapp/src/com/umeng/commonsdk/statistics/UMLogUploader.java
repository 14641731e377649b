package com.umeng.commonsdk.statistics;

import com.example.demo.net.Http;

public final class UMLogUploader {
    private UMLogUploader() { }
    public static void post(String url, String body) { Http.post(url, body, "application/json"); }
}
