//! A GPU device asked for smaller storage bindings than its adapter allows — what a page gets
//! from WebGPU when it does not ask for more (WebGPU's default `maxStorageBufferBindingSize`
//! is 128 MiB, `maxBufferSize` 256 MiB). Tensors larger than the cap are split by the
//! loaders, so models run on such a device; tests use it to exercise that path on a real
//! WebGPU device. It requests what burn's runtime would (the adapter's features and limits,
//! the compute-only memory hint), except for the two capped limits and wgpu's experimental
//! features.

use burn::tensor::wgpu::{WgpuSetup, wgpu};

use crate::platform;

/// A wgpu setup (instance, adapter, device, queue) whose device binds at most `max_binding`
/// bytes per storage buffer and creates buffers of at most twice that.
pub(super) async fn setup(max_binding: u64) -> Result<WgpuSetup, String> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: platform::WGPU_BACKENDS,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        })
        .await
        .map_err(|err| err.to_string())?;
    let mut limits = adapter.limits();
    limits.max_storage_buffer_binding_size =
        limits.max_storage_buffer_binding_size.min(max_binding as _);
    limits.max_buffer_size = limits.max_buffer_size.min(max_binding.saturating_mul(2));
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor {
            label: None,
            required_features: adapter
                .features()
                .difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
            required_limits: limits,
            memory_hints: wgpu::MemoryHints::MemoryUsage,
            trace: wgpu::Trace::Off,
            // burn's runtime also enables wgpu's experimental passthrough shaders, which only
            // its non-WGSL compilers use; that needs `unsafe`, which this crate forbids.
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
        })
        .await
        .map_err(|err| err.to_string())?;
    let backend = adapter.get_info().backend;
    Ok(WgpuSetup {
        instance,
        adapter,
        device,
        queue,
        backend,
    })
}
