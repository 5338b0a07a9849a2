# model.pt2 and model.onnx as own_files.py writes them: RGB, 3x32x32, normalized inputs
actmax visualize model.pt2 --units 0-3 --iterations 30 --mean 0.5 --std 0.25 \
  --out classes.png --overwrite
# --image: any PNG or JPEG, resized to the model's input (here the grid just written)
actmax saliency model.onnx --image classes.png --method guided --target 2 \
  --mean 0.5 --std 0.25 --out saliency.png --overwrite
actmax cam model.pt2 --image classes.png --mean 0.5 --std 0.25 --out cam.png --overwrite
