"""Request and response examples for the OpenAPI document, taken from the seed documents.

Seeds 000-003 (lipsync.studio) show `/lipsync-image` bodies, with and without a webhook,
and the job object; their parameter tables name the other models' fields, from which the
`/lipsync-video` and `/lipsync-image-multi` examples are built. Seed 004 (LipSync.dev)
shows the `/generate` body, its answer, the status answer and its webhook payloads.

The seeds' URLs are placeholders to replace with yours. Where a seed elides the host
(`https://.../face.png`), the example says `https://example.com/face.png`, the host the
seeds' own code examples use, so that "Try it out" sends a URL that is at least well formed.
"""

from __future__ import annotations

from typing import Any

JOB_ID = "550e8400-e29b-41d4-a716-446655440000"  # seeds 000-003
DEV_JOB_ID = "abc123-xyz789"  # seed 004

IMAGE = {
    "webhook": {
        "summary": "With a webhook (seeds 000-003)",
        "description": "We POST the job object to `webhook` when the job finishes.",
        "value": {
            "webhook": "https://your-app.example.com/webhooks/lipsync",
            "formState": {
                "image": "https://example.com/face.png",
                "audio": "https://example.com/voice.mp3",
                "resolution": "720p",
                "seed": 42,
            },
        },
    },
    "polling": {
        "summary": "Without a webhook: poll GET /api/v1/jobs/{job_id} (seeds 000-003)",
        "value": {
            "formState": {
                "image": "https://example.com/face.png",
                "audio": "https://example.com/voice.mp3",
                "resolution": "720p",
            }
        },
    },
    "code_example": {
        "summary": "The seeds' Node.js example",
        "value": {
            "webhook": "https://your-public-domain.com/webhooks/lipsync",
            "formState": {
                "image": "https://example.com/portrait.jpg",
                "audio": "https://example.com/speech.mp3",
                "resolution": "720p",
            },
        },
    },
}

VIDEO = {
    "dub": {
        "summary": "Replace a video's voice (the seeds' parameter table)",
        "value": {
            "webhook": "https://your-app.example.com/webhooks/lipsync",
            "formState": {
                "video": "https://example.com/video.mp4",
                "audio": "https://example.com/voice.mp3",
                "resolution": "480p",
                "prompt": "calm, still head",
                "seed": 42,
            },
        },
    },
}

MULTI = {
    "dialogue": {
        "summary": "Two people, two voices, one after the other",
        "value": {
            "formState": {
                "image": "https://example.com/two_people.png",
                "left_audio": "https://example.com/left_voice.mp3",
                "right_audio": "https://example.com/right_voice.mp3",
                "order": "left_right",
                "resolution": "720p",
            }
        },
    },
}

ESTIMATE = {
    "image": {
        "summary": "What the seeds' /lipsync-image example would cost",
        "value": {
            "model": "lipsync-image",
            "formState": {
                "image": "https://example.com/face.png",
                "audio": "https://example.com/voice.mp3",
                "resolution": "720p",
            },
        },
    },
}

GENERATE = {
    "video": {
        "summary": "Video-to-video (seed 004's request body)",
        "value": {
            "audioUrl": "https://example.com/audio.mp3",
            "videoUrl": "https://example.com/video.mp4",
            "settings": {"resolution": "720p", "fps": 25, "maxDuration": 60},
            "webhookUrl": "https://yourapp.com/webhook",
        },
    },
    "video_polling": {
        "summary": "Video-to-video without a webhook (seed 004's cURL example)",
        "value": {
            "audioUrl": "https://example.com/audio.mp3",
            "videoUrl": "https://example.com/video.mp4",
            "settings": {"resolution": "720p", "fps": 25},
        },
    },
    "image": {
        "summary": "Image-to-video: imageUrl instead of videoUrl (seed 004)",
        "value": {
            "audioUrl": "https://example.com/audio.mp3",
            "imageUrl": "https://example.com/portrait.jpg",
            "settings": {"resolution": "720p"},
        },
    },
}

# Answers, as `json_schema_extra` of the response models.
ACCEPTED: dict[str, Any] = {"examples": [{"id": JOB_ID, "status": "processing"}]}
STUDIO_JOB: dict[str, Any] = {
    "examples": [
        {
            "id": JOB_ID,
            "model": "lipsync-image",
            "status": "completed",
            "output": "https://example.com/result.mp4",
            "error": "",
            "executionTime": 12345,
            "timings": None,
        },
        {
            "id": JOB_ID,
            "model": "lipsync-image",
            "status": "failed",
            "output": None,
            "error": "Invalid audio format",
            "executionTime": None,
            "timings": None,
        },
    ]
}
GENERATED: dict[str, Any] = {
    "examples": [
        {
            "success": True,
            "data": {
                "jobId": DEV_JOB_ID,
                "status": "queued",
                "inputType": "video",
                "estimatedCredits": 5,
                "estimatedTime": 120,
            },
        }
    ]
}
DEV_STATUS: dict[str, Any] = {
    "examples": [
        {
            "success": True,
            "data": {
                "jobId": DEV_JOB_ID,
                "inputType": "video",
                "status": "completed",
                "outputUrl": "https://storage.supabase.co/.../video.mp4",
                "createdAt": "2025-01-28T12:00:00Z",
                "updatedAt": "2025-01-28T12:02:00Z",
                "processingTime": 120,
            },
        }
    ]
}
