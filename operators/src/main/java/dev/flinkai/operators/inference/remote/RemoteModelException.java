package dev.flinkai.operators.inference.remote;

import java.io.IOException;

/**
 * A call to a model endpoint that did not give an answer: a connection failure, an error status, or a body that is
 * not the answer the protocol promises. {@link #retryable()} is true only where trying again can help: the connection
 * failed or was reset, or the endpoint said it is overloaded (429) or not available (503).
 */
public class RemoteModelException extends IOException {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final boolean retryable;

    /** @param status the HTTP status, or 0 when there was no response */
    public RemoteModelException(String message, int status, boolean retryable, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.retryable = retryable;
    }

    public int status() {
        return status;
    }

    public boolean retryable() {
        return retryable;
    }
}
